"""The payloads of a channel's control frames: BEACON (`Beacon`) and AUDIENCE (`Audience`)."""

from __future__ import annotations

import math
import struct
from typing import Final, NamedTuple

from radio.core.names import validate_name
from radio.core.wire.layout import Kind, encode
from radio.errors import InvalidNameError, MalformedMessageError

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
