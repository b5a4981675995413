"""The whole-frame reader: `decode` checks every byte of a frame and returns a `Frame`."""

from __future__ import annotations

from typing import Final, NamedTuple

from radio.core.names import AUDIENCE_MARK, CONTROL_MARK, TOPIC_DELIMITER, validate_name
from radio.core.wire.control import (
    MAX_BEACON_INTERVAL_S,
    MIN_BEACON_INTERVAL_S,
    Audience,
    Beacon,
    decode_audience_payload,
    decode_beacon_payload,
)
from radio.core.wire.layout import (
    HEADER,
    NO_PUBLISHER,
    Kind,
    decode_records,
    header_offset,
    unpack_header,
    unpack_parts,
)
from radio.errors import InvalidNameError, MalformedMessageError

_SESSION_KINDS: Final = frozenset({Kind.DATA, Kind.END, Kind.BATCH})


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


def is_head_of(head: bytes, part: bytes) -> bool:
    """Whether *head* is a valid `PARTED` head (`decode_parts`) whose payload is *part*."""
    try:
        decode_parts(head, part)
    except MalformedMessageError:
        return False
    return True
