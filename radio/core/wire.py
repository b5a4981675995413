"""The radio frame layout: pure encode and decode functions over bytes, no I/O."""

from __future__ import annotations

import math
import struct
from enum import IntEnum
from typing import Final, NamedTuple
from zlib import crc32

from radio.core.names import (
    AUDIENCE_MARK,
    CONTROL_MARK,
    MAX_NAME_LENGTH,
    TOPIC_DELIMITER,
    validate_name,
)
from radio.errors import InvalidNameError, MalformedMessageError

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


_SESSION_KINDS: Final = frozenset({Kind.DATA, Kind.END, Kind.BATCH})
_FLAGGABLE: Final = frozenset({Kind.DATA, Kind.BATCH})
_KINDS: Final = {kind.value: kind for kind in Kind}
_INF: Final[float] = float("inf")

MAX_ENDED_IN_BEACON: Final[int] = 8
"""Most recently ended sessions one beacon names (with their last seq)."""

MIN_BEACON_INTERVAL_S: Final[float] = 0.001
"""Shortest beacon interval a beacon may announce (ZeroMQ counts in milliseconds)."""

MAX_BEACON_INTERVAL_S: Final[float] = 3600.0
"""Longest beacon interval a beacon may announce: a subscriber waits three of them
before it calls a silent publisher off air, so a forged interval of 1e9 s would keep
it on air for ever."""

SIGNING_OFF: Final[int] = 0x01
"""Beacon flag: the publisher is closing; followers may follow another one at once."""

_BEACON_FIXED: Final = struct.Struct("!Bd")
_SEQ: Final = struct.Struct("!Q")


class Beacon(NamedTuple):
    """What a BEACON says: who sends it, what is live, what ended lately.

    ``publisher`` is the sender's instance ID (`PUBLISHER_ID_BYTES` random
    bytes, new at every start: the header's, as in every frame); ``live`` the
    live session (``""``: none) and
    ``live_seq`` the seq of the last message sent on it; ``previous`` the session
    that was live before it, still open, and ``previous_seq`` its last seq sent
    while it was live (what its followers should have heard); ``ended`` the
    sessions closed lately, each with its last seq, so that an END lost in a
    full queue or a partition is learned from the next beacon that gets through;
    ``signing_off`` is set on the last beacons of a closing publisher; ``wall``
    is the publisher's wall clock (seconds since the epoch) when it sent the
    beacon, read with the header's monotonic send time: their difference turns
    the publisher's monotonic send times into wall times, for display.
    """

    publisher: bytes
    live: str = ""
    live_seq: int = 0
    ended: tuple[tuple[str, int], ...] = ()
    signing_off: bool = False
    previous: str = ""
    previous_seq: int = 0
    wall: float = 0.0


def encode_beacon_payload(beacon: Beacon) -> bytes:
    """The payload of a BEACON frame.

    Layout::

        | flags u8 | wall f64 | live: len u8, name, seq u64 |
        | previous: len u8, name, seq u64 | count u8 | count x (len u8, name, seq u64) |

    Names are ASCII (`radio.core.names` rule, so at most 128 bytes); an absent live
    or previous session has length 0 and seq 0; ``wall`` is a finite number >= 0.
    The publisher's ID is the header's.
    """
    parts = [
        _BEACON_FIXED.pack(SIGNING_OFF if beacon.signing_off else 0, beacon.wall),
        _name_and_seq(beacon.live, beacon.live_seq),
        _name_and_seq(beacon.previous, beacon.previous_seq),
        bytes((len(beacon.ended),)),
    ]
    parts.extend(_name_and_seq(name, seq) for name, seq in beacon.ended)
    return b"".join(parts)


def _name_and_seq(name: str, seq: int) -> bytes:
    raw = name.encode("ascii")
    return bytes((len(raw),)) + raw + _SEQ.pack(seq)


def decode_beacon_payload(payload: bytes, publisher: bytes) -> Beacon:
    """The `Beacon` in a BEACON frame's payload, sent by *publisher*.

    Raises `MalformedMessageError` if it is not one.
    """
    try:
        flags, wall = _BEACON_FIXED.unpack_from(payload, 0)
        offset = _BEACON_FIXED.size
        live, live_seq, offset = _read_name_and_seq(payload, offset, allow_empty=True)
        previous, previous_seq, offset = _read_name_and_seq(payload, offset, allow_empty=True)
        count = payload[offset]
        offset += 1
        if count > MAX_ENDED_IN_BEACON:
            raise MalformedMessageError(f"beacon names {count} ended sessions")
        ended = []
        for _ in range(count):
            name, seq, offset = _read_name_and_seq(payload, offset, allow_empty=False)
            ended.append((name, seq))
    except (struct.error, IndexError):
        raise MalformedMessageError(f"beacon payload cut short ({len(payload)} bytes)") from None
    if offset != len(payload):
        raise MalformedMessageError(f"{len(payload) - offset} stray bytes after a beacon")
    if flags & ~SIGNING_OFF:
        raise MalformedMessageError(f"unknown beacon flags {flags:#x}")
    if not (math.isfinite(wall) and wall >= 0.0):
        raise MalformedMessageError(f"invalid wall time {wall!r} in a beacon")
    signing_off = bool(flags & SIGNING_OFF)
    return Beacon(
        publisher, live, live_seq, tuple(ended), signing_off, previous, previous_seq, wall
    )


def _read_name_and_seq(payload: bytes, offset: int, *, allow_empty: bool) -> tuple[str, int, int]:
    length = payload[offset]
    start = offset + 1
    raw = payload[start : start + length]
    if len(raw) != length:
        raise IndexError(length)
    (seq,) = _SEQ.unpack_from(payload, start + length)
    if not length:
        if not allow_empty or seq:
            raise MalformedMessageError("empty session name in a beacon or an audience")
        return "", 0, start + _SEQ.size
    try:
        name = validate_name(raw.decode("ascii"), "session")
    except (UnicodeDecodeError, InvalidNameError) as exc:
        raise MalformedMessageError(f"bad name in a beacon or an audience: {exc}") from None
    return name, seq, start + length + _SEQ.size


def encode_beacon(
    control: bytes, seq: int, sent_at: float, interval: float, beacon: Beacon
) -> bytes:
    """A whole BEACON frame on the *control* topic (`radio.core.names.control_topic`)."""
    payload = encode_beacon_payload(beacon)
    return encode(control, Kind.BEACON, seq, sent_at, payload, interval, publisher=beacon.publisher)


MAX_AUDIENCE_SESSIONS: Final[int] = 32
"""Most sessions one AUDIENCE frame lists with their listeners (the others are counted)."""

MAX_AUDIENCE_COUNT: Final[int] = 2**32 - 1
"""Largest count an AUDIENCE frame carries (u32): larger ones are sent as this."""

_AUDIENCE_FIXED: Final = struct.Struct("!IIIIB")
_U32: Final = struct.Struct("!I")


class Audience(NamedTuple):
    """What an AUDIENCE frame says: the listeners its publisher counts now.

    ``channel``: radio subscribers on the channel (presence on its control topic);
    ``sessions``: up to `MAX_AUDIENCE_SESSIONS` open sessions that are not a desk
    client's, live first, each ``(name, listeners, last seq sent)``; ``unlisted``:
    such sessions open and not listed; ``private_sessions`` and
    ``private_listeners``: the desk clients' sessions open and their listeners,
    counted, never named (their IDs are their clients' alone). Listeners behind a
    relay are counted: the relay forwards their presence. Counts are capped at
    `MAX_AUDIENCE_COUNT`.
    """

    channel: int = 0
    sessions: tuple[tuple[str, int, int], ...] = ()
    unlisted: int = 0
    private_sessions: int = 0
    private_listeners: int = 0


def encode_audience_payload(audience: Audience) -> bytes:
    """The payload of an AUDIENCE frame.

    Layout::

        | channel u32 | unlisted u32 | private sessions u32 | private listeners u32 |
        | count u8 (0-32) | count x (name len u8, name, last seq u64, listeners u32) |

    Names follow the name rule; counts above `MAX_AUDIENCE_COUNT` are sent capped.
    """
    counts = (audience.channel, audience.unlisted, audience.private_sessions)
    capped = [min(count, MAX_AUDIENCE_COUNT) for count in (*counts, audience.private_listeners)]
    fixed = _AUDIENCE_FIXED.pack(*capped, len(audience.sessions))
    entries = [
        _name_and_seq(name, seq) + _U32.pack(min(listeners, MAX_AUDIENCE_COUNT))
        for name, listeners, seq in audience.sessions
    ]
    return fixed + b"".join(entries)


def decode_audience_payload(payload: bytes) -> Audience:
    """The `Audience` in an AUDIENCE frame's payload; raises `MalformedMessageError` if none."""
    try:
        fixed = _AUDIENCE_FIXED.unpack_from(payload, 0)
        if fixed[4] > MAX_AUDIENCE_SESSIONS:
            raise MalformedMessageError(f"audience lists {fixed[4]} sessions")
        offset = _AUDIENCE_FIXED.size
        sessions: list[tuple[str, int, int]] = []
        for _ in range(fixed[4]):
            name, seq, offset = _read_name_and_seq(payload, offset, allow_empty=False)
            sessions.append((name, _U32.unpack_from(payload, offset)[0], seq))
            offset += _U32.size
    except (struct.error, IndexError):
        raise MalformedMessageError(f"audience payload cut short ({len(payload)} bytes)") from None
    if offset != len(payload):
        raise MalformedMessageError(f"{len(payload) - offset} stray bytes after an audience")
    if len({entry[0] for entry in sessions}) != len(sessions):
        raise MalformedMessageError("audience lists a session twice")
    return Audience(fixed[0], tuple(sessions), *fixed[1:4])


def encode_audience(
    topic: bytes, seq: int, sent_at: float, interval: float, audience: Audience, publisher: bytes
) -> bytes:
    """A whole AUDIENCE frame on the *topic* `radio.core.names.audience_topic` names."""
    payload = encode_audience_payload(audience)
    return encode(topic, Kind.AUDIENCE, seq, sent_at, payload, interval, publisher=publisher)


class Frame(NamedTuple):
    """One decoded frame.

    ``session`` is the session the frame is about: the topic's session for DATA
    and END, the live session named by a BEACON (``""`` when none is live), whose
    whole content is in ``beacon``; ``publisher`` the instance that sent it. An
    AUDIENCE frame's session is ``""``, its content in ``audience``.
    """

    channel: str
    session: str
    kind: Kind
    seq: int
    sent_at: float
    ttl: float
    payload: bytes
    live: bool = False
    beacon: Beacon | None = None
    publisher: bytes = NO_PUBLISHER
    audience: Audience | None = None


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


def is_head_of(head: bytes, part: bytes) -> bool:
    """Whether *head* is a valid `PARTED` head (`decode_parts`) whose payload is *part*."""
    try:
        decode_parts(head, part)
    except MalformedMessageError:
        return False
    return True


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


def decode(frame: object) -> Frame:
    """Decode one frame; raise `MalformedMessageError` (and nothing else) if it is not valid.

    *frame* is typed `object` so that the compiled module (mypyc checks argument
    types on entry) says that a non-bytes frame is malformed, as pure Python does.

    Layout (multi-byte integers and floats in network byte order)::

        +---------+---+---------+---+---------+------+-----------+-----+---------+-------+---------+
        | channel | / | session | / | version | kind | publisher | seq | sent_at | ttl   | payload |
        | 1-128 B |   | 1-128 B |   | u8 = 4  | u8   | 8 B       | u64 | f64 s   | f64 s | rest    |
        +---------+---+---------+---+---------+------+-----------+-----+---------+-------+---------+

    ``session`` is ``!`` on the channel's control topic (BEACON frames, whose
    payload is a `Beacon`, returned decoded in ``beacon``, and whose ``ttl`` is
    the beacon interval, from `MIN_BEACON_INTERVAL_S` to `MAX_BEACON_INTERVAL_S`).
    ``publisher`` is the sending instance's ID (`PUBLISHER_ID_BYTES`), ``sent_at``
    its monotonic clock at send; ``ttl`` 0 means no
    expiry. The payload of a BATCH frame is returned whole; `decode_records`
    splits it.
    """
    if not isinstance(frame, bytes):
        raise MalformedMessageError(f"frame must be bytes, not {type(frame).__name__}")
    offset = header_offset(frame)
    kind, live, publisher, seq, sent_at, ttl = unpack_header(frame, offset)
    channel, raw_session = _topic_names(frame, offset)
    payload = frame[offset + HEADER.size :]
    beacon = None
    if raw_session == CONTROL_MARK:
        if kind in _SESSION_KINDS or kind is Kind.AUDIENCE:
            raise MalformedMessageError(f"{kind.name} frame on the control topic")
        _check_interval(ttl, "beacon")
        beacon = decode_beacon_payload(payload, publisher)
        session = beacon.live
    elif raw_session == AUDIENCE_MARK:
        if kind is not Kind.AUDIENCE:
            raise MalformedMessageError(f"{kind.name} frame on the audience topic")
        _check_interval(ttl, "audience")
        audience = decode_audience_payload(payload)
        return Frame(
            channel, "", kind, seq, sent_at, ttl, payload, False, None, publisher, audience
        )
    else:
        if kind not in _SESSION_KINDS:
            raise MalformedMessageError(f"{kind.name} frame on a session topic")
        session = _session_name(raw_session)
        if kind is Kind.BATCH:
            decode_records(frame, offset + HEADER.size)
    return Frame(channel, session, kind, seq, sent_at, ttl, payload, live, beacon, publisher)


def _check_interval(ttl: float, what: str) -> None:
    """Refuse a beacon interval (a BEACON's or an AUDIENCE's ttl) out of its bounds."""
    if not MIN_BEACON_INTERVAL_S <= ttl <= MAX_BEACON_INTERVAL_S:
        raise MalformedMessageError(
            f"{what} interval {ttl!r} s is not from {MIN_BEACON_INTERVAL_S:g} "
            f"to {MAX_BEACON_INTERVAL_S:g} s"
        )


def decode_parts(head: object, part: object) -> Frame:
    """Decode a two-part DATA message; raise `MalformedMessageError` (and nothing else) if invalid.

    *head* is its first frame, *part* the frame that came after it (None: none
    did). Layout of the head; the payload is *part*, whole and not copied::

        +-------+---------+------+-----------+-----+---------+-----+-------------+-------+
        | topic | version | kind | publisher | seq | sent_at | ttl | part length | check |
        |       | u8 = 4  | u8   | 8 B       | u64 | f64 s   | f64 | u64         | u32   |
        +-------+---------+------+-----------+-----+---------+-----+-------------+-------+

    where ``kind`` is DATA with the `PARTED` flag (0x41), and `LIVE` (0xC1) or not.
    """
    if not isinstance(head, bytes):
        raise MalformedMessageError(f"frame must be bytes, not {type(head).__name__}")
    if part is not None and not isinstance(part, bytes):
        raise MalformedMessageError(f"part must be bytes, not {type(part).__name__}")
    offset = header_offset(head)
    live, publisher, seq, sent_at, ttl, payload = unpack_parts(head, offset, part)
    channel, raw_session = _topic_names(head, offset)
    if raw_session == CONTROL_MARK:
        raise MalformedMessageError("DATA frame on the control topic")
    if raw_session == AUDIENCE_MARK:
        raise MalformedMessageError("DATA frame on the audience topic")
    session = _session_name(raw_session)
    return Frame(channel, session, Kind.DATA, seq, sent_at, ttl, payload, live, None, publisher)


def _topic_names(frame: bytes, offset: int) -> tuple[str, bytes]:
    """The channel named by the topic of *frame* (header at *offset*) and its raw session."""
    channel_end = frame.index(TOPIC_DELIMITER)
    try:
        channel = validate_name(frame[:channel_end].decode("ascii"), "channel")
    except (UnicodeDecodeError, InvalidNameError) as exc:
        raise MalformedMessageError(f"bad name in frame: {exc}") from None
    return channel, frame[channel_end + 1 : offset - 1]


def _session_name(raw: bytes) -> str:
    try:
        return validate_name(raw.decode("ascii"), "session")
    except (UnicodeDecodeError, InvalidNameError) as exc:
        raise MalformedMessageError(f"bad name in frame: {exc}") from None
