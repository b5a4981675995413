"""The wire format: encode/decode round trips, and malformed frames raise one error type."""

from __future__ import annotations

import contextlib
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radio import MalformedMessageError
from radio.names import NAME_ALPHABET, control_topic, session_topic
from radio.wire import HEADER, VERSION, Frame, Kind, decode, encode

names = st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=128)
times = st.floats(min_value=0.0, max_value=1e12, allow_nan=False)


@given(
    names,
    names,
    st.sampled_from([Kind.DATA, Kind.END]),
    st.integers(0, 2**64 - 1),
    times,
    times,
    st.binary(max_size=300),
)
def test_session_frames_round_trip(
    channel: str, session: str, kind: Kind, seq: int, sent_at: float, ttl: float, payload: bytes
) -> None:
    """What encode writes on a session topic, decode reads back unchanged."""
    frame = encode(session_topic(channel, session), kind, seq, sent_at, payload, ttl)
    assert decode(frame) == Frame(channel, session, kind, seq, sent_at, ttl, payload)


@given(names, st.one_of(st.just(""), names), st.integers(0, 2**64 - 1), times)
def test_beacons_name_the_live_session(channel: str, live: str, seq: int, interval: float) -> None:
    """A beacon's session is the live one it names ("" for none), with an empty payload."""
    frame = encode(control_topic(channel), Kind.BEACON, seq, 1.0, live.encode(), interval)
    assert decode(frame) == Frame(channel, live, Kind.BEACON, seq, 1.0, interval, b"")


def test_frame_is_topic_then_header_then_payload() -> None:
    """The documented layout, byte for byte."""
    frame = encode(b"ch/s1/", Kind.DATA, 7, 1.5, b"hello", 2.0)
    assert frame == b"ch/s1/" + struct.pack("!BBQdd", VERSION, 1, 7, 1.5, 2.0) + b"hello"
    assert HEADER.size == 26


GOOD = encode(b"ch/s1/", Kind.DATA, 1, 1.0, b"payload")


def _with_header(**fields: float) -> bytes:
    values = {"version": VERSION, "kind": 1, "seq": 1, "sent_at": 1.0, "ttl": 0.0} | fields
    return b"ch/s1/" + struct.pack("!BBQdd", *values.values()) + b"p"


@pytest.mark.parametrize(
    ("frame", "reason"),
    [
        (b"", "no topic"),
        (b"no-delimiter-at-all", "no topic"),
        (b"ch/", "no topic"),
        (b"/s1/" + GOOD[6:], "no topic"),
        (b"ch/s 1/" + GOOD[6:], "bad name"),
        (b"ch/\xff\xfe/" + GOOD[6:], "bad name"),
        (b"ch/s1/", "too short"),
        (GOOD[:20], "too short"),
        (_with_header(version=2), "version 2"),
        (_with_header(version=0), "version 0"),
        (_with_header(kind=9), "kind 9"),
        (_with_header(sent_at=math.nan), "send time"),
        (_with_header(sent_at=-1.0), "send time"),
        (_with_header(ttl=math.inf), "ttl"),
        (_with_header(ttl=-2.0), "ttl"),
        (_with_header(kind=Kind.BEACON), "BEACON frame on a session topic"),
        (b"ch/!/" + GOOD[6:], "DATA frame on the control topic"),
        (encode(b"ch/!/", Kind.BEACON, 1, 1.0, b"bad/live"), "bad name"),
        (b"x" * 300 + b"/s/" + GOOD[6:], "no topic"),
    ],
)
def test_malformed_frames_raise_the_documented_error(frame: bytes, reason: str) -> None:
    """Each kind of damage gives MalformedMessageError saying what is wrong."""
    with pytest.raises(MalformedMessageError, match=reason):
        decode(frame)


def test_non_bytes_are_malformed() -> None:
    """decode takes bytes only, and says so with its one error type."""
    with pytest.raises(MalformedMessageError, match="must be bytes"):
        decode("ch/s1/")  # type: ignore[arg-type]


@given(st.binary(max_size=400))
def test_any_bytes_decode_or_raise_malformed(frame: bytes) -> None:
    """Garbage never raises anything but MalformedMessageError."""
    with contextlib.suppress(MalformedMessageError):
        decode(frame)


@given(st.binary(min_size=1, max_size=80), st.integers(0, 200), st.integers(0, 7))
def test_bit_flips_and_truncations_decode_or_raise_malformed(
    payload: bytes, cut: int, bit: int
) -> None:
    """A damaged valid frame is still either a frame or the one documented error."""
    frame = bytearray(encode(b"orders/abc/", Kind.DATA, 5, 2.0, payload, 1.0))
    frame[cut % len(frame)] ^= 1 << bit
    for candidate in (bytes(frame), bytes(frame[:cut])):
        with contextlib.suppress(MalformedMessageError):
            decode(candidate)
