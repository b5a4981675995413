"""The radio frame header and the frames built on it: DATA, END, BATCH, HELLO, parts."""

from __future__ import annotations

import math
import struct
from enum import IntEnum
from typing import Final
from zlib import crc32

from radio.core.names import MAX_NAME_LENGTH, TOPIC_DELIMITER
from radio.errors import MalformedMessageError

VERSION: Final[int] = 4
"""The wire format version this module writes and reads (4: every header names the
publisher instance that sent it; 3: every header's send time is the publisher's
monotonic clock, and a beacon carries its wall clock; 2: beacons name their publisher,
the live session's last seq and the sessions that ended lately)."""

PUBLISHER_ID_BYTES: Final[int] = 8
"""Length of the random instance ID a publisher picks at start and puts in every header."""

NO_PUBLISHER: Final[bytes] = bytes(PUBLISHER_ID_BYTES)
"""The instance ID of frames made without one (tests, tools): eight zero bytes."""

HEADER: Final = struct.Struct(f"!BB{PUBLISHER_ID_BYTES}sQdd")
"""What follows the topic: version, kind, publisher, seq, sent_at, ttl (34 bytes).

``publisher`` is the sending instance's ID: seqs and send times mean something only
between frames of one instance. ``sent_at`` is its monotonic clock
(``time.monotonic()``) when it sent the frame, in seconds: only differences of it
mean anything (a beacon's ``wall`` relates it to wall time)."""

LEAD: Final = struct.Struct(f"!BB{PUBLISHER_ID_BYTES}s")
"""The header's first part, fixed for a session, kind and publisher: version, kind
byte and the publisher's instance ID (10 bytes)."""

TAIL: Final = struct.Struct("!Qdd")
"""The header's second part, new for every message: seq, sent_at, ttl."""

pack_tail: Final = TAIL.pack
"""``pack_tail(seq, sent_at, ttl)``: the per-message part of a header (the hot path's)."""

NO_TTL: Final[float] = 0.0
"""The TTL written on the wire for a message that never expires."""

MAX_TOPIC_LENGTH: Final[int] = 2 * 128 + 2
"""Longest topic a valid frame can start with, in bytes."""


class Kind(IntEnum):
    """What a frame is: its second header byte."""

    DATA = 1
    """An application message on a session topic; seq counts them from 1."""
    END = 2
    """The session is over (on the session topic); seq is its last DATA seq."""
    BEACON = 3
    """The publisher is on air (on the control topic); the payload is a `Beacon`
    (`encode_beacon`) and ttl holds the beacon interval."""
    BATCH = 4
    """Several DATA messages in one frame (opt-in): seq is the first one's, ttl is
    shared, the payload is a run of `RECORD` headers each followed by its payload."""
    HELLO = 5
    """Only in a subscriber's inbox, when the publisher saw it tune in to a session:
    seq is the session's last seq sent before; everything of the session that comes
    after it on that connection was sent after the tune-in was seen."""
    AUDIENCE = 6
    """Only on the channel's audience topic (``channel/?/``), beside each scheduled
    beacon: the listeners the publisher counts (`Audience`); ttl holds the beacon
    interval, seq the frame's own counter. No radio subscriber subscribes to it."""


RECORD: Final = struct.Struct("!dI")
"""One message inside a BATCH payload: its send time and payload length (12 bytes)."""

MAX_BATCH_MESSAGES: Final[int] = 256
"""Most messages one BATCH frame may carry: bounds what one frame makes a subscriber hold."""

LIVE: Final[int] = 0x80
"""Flag in the kind byte of DATA and BATCH frames: the session was the channel's live
session when the frame was sent. Followers hear only flagged frames, so they never
yield a message sent after a newer session opened, even if the beacon saying so was
dropped at a full queue."""

PARTED: Final[int] = 0x40
"""Flag in the kind byte of a DATA message sent as two ZeroMQ frames: this *head*
(topic, header, then `PART_TRAILER`) and the payload as the next part, untouched, so
that neither side copies a large payload into or out of a frame. No kind reaches
this bit (kinds are 1-6)."""

PART_THRESHOLD: Final[int] = 65536
"""Smallest payload a publisher sends as a part of its own (`PARTED`), in bytes.

It is pyzmq's ``zmq.COPY_THRESHOLD`` (64 KiB), below which pyzmq copies a frame
sent with ``copy=False`` anyway; a literal here, since this module needs no zmq."""

PART_TRAILER: Final = struct.Struct("!QI")
"""What follows the header in a `PARTED` head: the payload part's length in bytes and
the CRC-32 of its first `PART_CHECK_BYTES` bytes. The check binds a head to its part:
a head read without its part (a lying head sent alone) is never paired with the
frame of another message that comes next, whose first bytes (its send time) it
cannot know."""

PART_CHECK_BYTES: Final[int] = 64
"""How much of a part's start its head's CRC-32 covers (all of a shorter part)."""


def pack_part(payload: bytes) -> bytes:
    """The end of a `PARTED` head whose part is *payload*: see `PART_TRAILER`."""
    return PART_TRAILER.pack(len(payload), crc32(payload[:PART_CHECK_BYTES]))


_FLAGGABLE: Final = frozenset({Kind.DATA, Kind.BATCH})
_KINDS: Final = {kind.value: kind for kind in Kind}
_INF: Final[float] = float("inf")


def frame_prefix(
    topic: bytes,
    kind: Kind,
    *,
    live: bool = False,
    parted: bool = False,
    publisher: bytes = NO_PUBLISHER,
) -> bytes:
    """*topic* and the header's fixed part: a frame is this, `pack_tail`, then the payload.

    The publisher keeps one per session and kind and builds each frame as
    ``prefix + pack_tail(seq, sent_at, ttl) + payload``, which is `encode`; with
    *parted* (DATA only), the head of a two-part message is ``prefix +
    pack_tail(seq, sent_at, ttl) + pack_part(payload)`` (`encode_parts`).
    """
    flags = (LIVE if live else 0) | (PARTED if parted else 0)
    return topic + LEAD.pack(VERSION, kind | flags, publisher)


def kind_byte(prefix: bytes) -> int:
    """The kind byte (with its `LIVE` flag) of a `frame_prefix`: before the publisher's ID."""
    return prefix[-1 - PUBLISHER_ID_BYTES]


def encode(
    topic: bytes,
    kind: Kind,
    seq: int,
    sent_at: float,
    payload: bytes = b"",
    ttl: float = NO_TTL,
    *,
    live: bool = False,
    publisher: bytes = NO_PUBLISHER,
) -> bytes:
    """Return one frame: *topic* (from `radio.core.names`) followed by the header and *payload*.

    The caller supplies valid values. It is `frame_prefix` + `pack_tail` + payload,
    the parts the publisher's hot path joins itself.
    """
    prefix = frame_prefix(topic, kind, live=live, publisher=publisher)
    return prefix + pack_tail(seq, sent_at, ttl) + payload


def encode_parts(
    topic: bytes,
    seq: int,
    sent_at: float,
    payload: bytes,
    ttl: float = NO_TTL,
    *,
    live: bool = False,
    publisher: bytes = NO_PUBLISHER,
) -> tuple[bytes, bytes]:
    """Return a DATA message as two frames: its `PARTED` head and *payload* itself.

    Layout of the head (the payload is the message's second and last part)::

        | topic | version | kind | publisher | seq | sent_at | ttl | part length u64 | check u32 |

    The publisher sends a payload of `PART_THRESHOLD` bytes or more this way.
    """
    prefix = frame_prefix(topic, Kind.DATA, live=live, parted=True, publisher=publisher)
    head = prefix + pack_tail(seq, sent_at, ttl)
    return head + pack_part(payload), payload


def encode_inbox(
    inbox: bytes,
    session: bytes,
    kind: int,
    seq: int,
    sent_at: float,
    ttl: float,
    payload: bytes,
    publisher: bytes = NO_PUBLISHER,
) -> bytes:
    r"""A frame for one subscriber's inbox: a session's HELLO or message (its last value).

    Layout: the inbox topic (`radio.core.names.inbox_topic`), the session's name and
    ``/``, then the header (*kind* is the byte with its `LIVE` flag) and payload::

        | channel/ \x00 id / | session / | version | kind | publisher | seq | sent_at | ttl |
        | payload |
    """
    lead = LEAD.pack(VERSION, kind, publisher)
    return inbox + session + lead + pack_tail(seq, sent_at, ttl) + payload


def split_inbox(frame: bytes, inbox: bytes) -> tuple[bytes, bytes]:
    """``(session + b"/", header and payload)`` of an inbox frame addressed to *inbox*.

    Raises `MalformedMessageError` when no session name follows the inbox topic.
    """
    start = len(inbox)
    end = frame.find(TOPIC_DELIMITER, start, start + MAX_NAME_LENGTH + 1)
    if end <= start:
        raise MalformedMessageError(f"inbox frame names no session: {frame[:40]!r}")
    return frame[start : end + 1], frame[end + 1 :]


pack_record: Final = RECORD.pack
"""``pack_record(sent_at, length)``: the header of one record in a BATCH payload."""


def encode_record(sent_at: float, payload: bytes) -> bytes:
    """One record of a BATCH payload: `RECORD` then the message's payload."""
    return pack_record(sent_at, len(payload)) + payload


def encode_batch(
    topic: bytes,
    first_seq: int,
    ttl: float,
    records: list[tuple[float, bytes]],
    *,
    live: bool = False,
    publisher: bytes = NO_PUBLISHER,
) -> bytes:
    """A BATCH frame of *records* (``(sent_at, payload)``), numbered from *first_seq*.

    Its header carries the first record's send time; `radio.core.batch.Batch` builds the
    same bytes incrementally.
    """
    body = b"".join(encode_record(sent_at, payload) for sent_at, payload in records)
    return encode(
        topic, Kind.BATCH, first_seq, records[0][0], body, ttl, live=live, publisher=publisher
    )


def decode_records(frame: bytes, offset: int) -> list[tuple[float, bytes]]:
    """Return ``(sent_at, payload)`` of each record from *offset* to the end of *frame*.

    Raises `MalformedMessageError` unless the records fill the frame exactly and
    every send time is a finite number >= 0: a damaged batch yields nothing.
    """
    records: list[tuple[float, bytes]] = []
    end = len(frame)
    step = RECORD.size
    unpack = RECORD.unpack_from
    while offset < end:
        if len(records) == MAX_BATCH_MESSAGES:
            raise MalformedMessageError(f"batch of more than {MAX_BATCH_MESSAGES} messages")
        if offset + step > end:
            raise MalformedMessageError(f"batch record header cut short at byte {offset}")
        sent_at, length = unpack(frame, offset)
        start = offset + step
        offset = start + length
        if offset > end:
            raise MalformedMessageError(f"batch record of {length} bytes overruns the frame")
        if not 0.0 <= sent_at < _INF:
            raise MalformedMessageError(f"invalid send time {sent_at!r} in a batch record")
        records.append((sent_at, frame[start:offset]))
    if not records:
        raise MalformedMessageError("empty batch")
    return records


def header_offset(frame: bytes) -> int:
    """Return where the header starts in *frame*: just past its topic's second ``/``.

    Raises `MalformedMessageError` when the frame does not start with a topic.
    """
    first = frame.find(TOPIC_DELIMITER, 0, MAX_TOPIC_LENGTH)
    second = frame.find(TOPIC_DELIMITER, first + 1, MAX_TOPIC_LENGTH) if first > 0 else -1
    if second < 0:
        raise MalformedMessageError(f"frame has no topic: {frame[:40]!r}")
    return second + 1


def unpack_flagged(frame: bytes, offset: int) -> tuple[Kind, bool, bool, bytes, int, float, float]:
    """Return ``(kind, live, parted, publisher, seq, sent_at, ttl)`` from the header at *offset*.

    Raises `MalformedMessageError` for a short frame, another version, an unknown
    kind, the `LIVE` flag on a kind that does not take it, the `PARTED` flag on
    another kind than DATA, or a send time or TTL that is not a finite number >= 0.
    """
    try:
        version, kind, publisher, seq, sent_at, ttl = HEADER.unpack_from(frame, offset)
    except struct.error:
        raise MalformedMessageError(
            f"frame too short: {len(frame) - offset} header bytes, need {HEADER.size}"
        ) from None
    if version != VERSION:
        raise MalformedMessageError(f"unsupported wire version {version} (this is {VERSION})")
    live = bool(kind & LIVE)
    parted = bool(kind & PARTED)
    known = _KINDS.get(kind & ~(LIVE | PARTED))
    if known is None:
        raise MalformedMessageError(f"unknown frame kind {kind}")
    if live and known not in _FLAGGABLE:
        raise MalformedMessageError(f"{known.name} frame with the live flag")
    if parted and known is not Kind.DATA:
        raise MalformedMessageError(f"{known.name} frame with the parted flag")
    if not (math.isfinite(sent_at) and sent_at >= 0.0):
        raise MalformedMessageError(f"invalid send time {sent_at!r}")
    if not (math.isfinite(ttl) and ttl >= 0.0):
        raise MalformedMessageError(f"invalid ttl {ttl!r}")
    return known, live, parted, publisher, seq, sent_at, ttl


def unpack_header(frame: bytes, offset: int) -> tuple[Kind, bool, bytes, int, float, float]:
    """Return ``(kind, live, publisher, seq, sent_at, ttl)`` of a single-frame message's header.

    Raises `MalformedMessageError` as `unpack_flagged` does, and for a `PARTED`
    head, which is no whole message on its own.
    """
    kind, live, parted, publisher, seq, sent_at, ttl = unpack_flagged(frame, offset)
    if parted:
        raise MalformedMessageError("DATA head with the parted flag and no part")
    return kind, live, publisher, seq, sent_at, ttl


def is_parted(frame: bytes, offset: int) -> bool:
    """Whether the kind byte of the header at *offset* has the `PARTED` flag.

    It checks nothing else: `unpack_parts` validates the message.
    """
    return len(frame) > offset + 1 and bool(frame[offset + 1] & PARTED)


def unpack_parts(
    head: bytes, offset: int, part: bytes | None
) -> tuple[bool, bytes, int, float, float, bytes]:
    """Return ``(live, publisher, seq, sent_at, ttl, payload)`` of a two-part DATA message.

    *head* has its header at *offset*, *part* is the frame that came next (None:
    none did). Raises `MalformedMessageError` unless *head* is a `PARTED` DATA
    head ending exactly after its `PART_TRAILER`, and *part* has that length and the
    check of its first bytes; the payload is *part* itself, not a copy.
    """
    kind, live, parted, publisher, seq, sent_at, ttl = unpack_flagged(head, offset)
    if not parted:
        raise MalformedMessageError(f"{kind.name} frame where a parted head was expected")
    end = offset + HEADER.size
    if len(head) != end + PART_TRAILER.size:
        raise MalformedMessageError(
            f"parted head of {len(head) - end} bytes after the header, need {PART_TRAILER.size}"
        )
    length, check = PART_TRAILER.unpack_from(head, end)
    if part is None:
        raise MalformedMessageError("parted head with no part after it")
    if len(part) != length:
        raise MalformedMessageError(
            f"parted head announces {length} bytes, the part has {len(part)}"
        )
    if crc32(part[:PART_CHECK_BYTES]) != check:
        raise MalformedMessageError("parted head whose check does not match the frame after it")
    return live, publisher, seq, sent_at, ttl, part


def parts_size(head: bytes, part: bytes) -> int:
    """The size of a two-part message as a single frame would have: topic, header, payload.

    ``max_message_size`` applies to it, so a payload is refused or dropped alike
    whether it travels in one frame or two.
    """
    return len(head) - PART_TRAILER.size + len(part)


def span(frame: bytes, offset: int) -> tuple[int, int, float]:
    """The first seq, the number of messages and the send time of a frame (header at *offset*).

    A BATCH carries one message per record, anything else one; ``(0, 1, 0.0)``
    when the frame is not valid (its seq cannot be trusted).
    """
    try:
        kind, _, _, _, seq, sent_at, _ = unpack_flagged(frame, offset)  # a parted head too
        if kind is Kind.BATCH:
            return seq, len(decode_records(frame, offset + HEADER.size)), sent_at
    except MalformedMessageError:
        return 0, 1, 0.0
    return seq, 1, sent_at
