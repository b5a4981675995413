"""The wire format: encode/decode round trips, and malformed frames raise one error type."""

from __future__ import annotations

import contextlib
import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radio import MalformedMessageError
from radio.core.names import NAME_ALPHABET, control_topic, session_topic
from radio.core.wire import (
    HEADER,
    LIVE,
    MAX_BEACON_INTERVAL_S,
    MAX_ENDED_IN_BEACON,
    MIN_BEACON_INTERVAL_S,
    PART_THRESHOLD,
    PART_TRAILER,
    PARTED,
    PUBLISHER_ID_BYTES,
    VERSION,
    Beacon,
    Frame,
    Kind,
    decode,
    decode_beacon_payload,
    decode_parts,
    encode,
    encode_beacon,
    encode_beacon_payload,
    encode_parts,
    is_head_of,
    parts_size,
)

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


seqs = st.integers(0, 2**64 - 1)
beacons = st.builds(
    Beacon,
    st.binary(min_size=PUBLISHER_ID_BYTES, max_size=PUBLISHER_ID_BYTES),
    st.one_of(st.just(""), names),
    seqs,
    st.lists(st.tuples(names, seqs), max_size=MAX_ENDED_IN_BEACON).map(tuple),
    st.booleans(),
    st.one_of(st.just(""), names),
    seqs,
    times,
).map(lambda b: b._replace(live_seq=b.live_seq if b.live else 0))
beacons = beacons.map(lambda b: b._replace(previous_seq=b.previous_seq if b.previous else 0))


WALL0 = b"\x00" * 8  # a beacon's wall field: 0.0


intervals = st.floats(min_value=MIN_BEACON_INTERVAL_S, max_value=MAX_BEACON_INTERVAL_S)


@given(names, beacons, seqs, intervals)
def test_beacons_round_trip(channel: str, beacon: Beacon, seq: int, interval: float) -> None:
    """A beacon's session is the live one it names ("" for none); all it says comes back."""
    frame = encode_beacon(control_topic(channel), seq, 1.0, interval, beacon)
    decoded = decode(frame)
    assert decoded.session == beacon.live
    assert decoded.beacon == beacon
    assert (decoded.kind, decoded.seq, decoded.ttl) == (Kind.BEACON, seq, interval)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"\x00", "cut short"),
        (b"\x00" + WALL0 + b"\x00" * 9, "cut short"),
        (encode_beacon_payload(Beacon(b"12345678")) + b"x", "stray bytes"),
        (b"\x04" + encode_beacon_payload(Beacon(b"12345678"))[1:], "flags"),
        (encode_beacon_payload(Beacon(b"12345678", wall=-1.0)), "wall time"),
        (encode_beacon_payload(Beacon(b"12345678", wall=math.inf)), "wall time"),
        (
            b"\x00" + WALL0 + b"\x03a/b" + b"\x00" * 8 + b"\x00" + b"\x00" * 8 + b"\x00",
            "bad name",
        ),
        (
            b"\x00" + WALL0 + b"\x00" + b"\x00" * 7 + b"\x01" + b"\x00" * 9 + b"\x00",
            "empty session",
        ),
        (b"\x00" + WALL0 + b"\x00" * 18 + b"\x09", "9 ended"),
    ],
)
def test_bad_beacons_are_malformed(payload: bytes, reason: str) -> None:
    """Each kind of damage to a beacon's payload names itself."""
    with pytest.raises(MalformedMessageError, match=reason):
        decode_beacon_payload(payload, b"12345678")


def test_frame_is_topic_then_header_then_payload() -> None:
    """The documented layout, byte for byte."""
    frame = encode(b"ch/s1/", Kind.DATA, 7, 1.5, b"hello", 2.0, publisher=b"pub-id-8")
    header = struct.pack("!BB8sQdd", VERSION, 1, b"pub-id-8", 7, 1.5, 2.0)
    assert frame == b"ch/s1/" + header + b"hello"
    assert HEADER.size == 34
    assert decode(frame).publisher == b"pub-id-8"


GOOD = encode(b"ch/s1/", Kind.DATA, 1, 1.0, b"payload")
BAD_NAME_BEACON = b"\x00" + WALL0 + b"\x03a/b" + b"\x00" * 8 + b"\x00" + b"\x00" * 8 + b"\x00"
GOOD_BEACON = encode_beacon_payload(Beacon(b"12345678", "s1"))


def _with_header(**fields: float) -> bytes:
    values = {"version": VERSION, "kind": 1, "seq": 1, "sent_at": 1.0, "ttl": 0.0} | fields
    version, kind, seq, sent_at, ttl = values.values()
    header = struct.pack("!BB8sQdd", version, kind, bytes(8), seq, sent_at, ttl)
    return b"ch/s1/" + header + b"p"


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
        (_with_header(version=1), "version 1"),
        (_with_header(version=0), "version 0"),
        (_with_header(kind=9), "kind 9"),
        (_with_header(sent_at=math.nan), "send time"),
        (_with_header(sent_at=-1.0), "send time"),
        (_with_header(ttl=math.inf), "ttl"),
        (_with_header(ttl=-2.0), "ttl"),
        (_with_header(kind=Kind.BEACON), "BEACON frame on a session topic"),
        (b"ch/!/" + GOOD[6:], "DATA frame on the control topic"),
        (encode(b"ch/!/", Kind.BEACON, 1, 1.0, BAD_NAME_BEACON, 1.0), "bad name"),
        (encode(b"ch/!/", Kind.BEACON, 1, 1.0, GOOD_BEACON, 0.0), "beacon interval 0.0"),
        (encode(b"ch/!/", Kind.BEACON, 1, 1.0, GOOD_BEACON, 1e9), "beacon interval 1000000000.0"),
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


# -- two-part DATA messages (PARTED) ----------------------------------------------------


def test_the_parted_flag_collides_with_no_kind_or_flag() -> None:
    """PARTED is a bit no kind value and not the LIVE flag uses."""
    assert all(kind & PARTED == 0 for kind in Kind)
    assert PARTED & LIVE == 0
    assert PART_THRESHOLD == 65536  # pyzmq's zmq.COPY_THRESHOLD, written as a literal


@pytest.mark.parametrize("live", [True, False])
def test_two_part_messages_round_trip_without_copying_the_payload(live: bool) -> None:
    """The head is topic, header and the part's length; decode_parts returns the part
    itself as the payload, not a copy."""
    payload = bytes(range(256)) * 300
    head, part = encode_parts(session_topic("ch", "s1"), 7, 12.5, payload, 3.0, live=live)
    assert part is payload
    topic = session_topic("ch", "s1")
    assert head[len(topic) + 1] == Kind.DATA | PARTED | (LIVE if live else 0)
    assert len(head) == len(topic) + HEADER.size + PART_TRAILER.size
    frame = decode_parts(head, part)
    assert frame == Frame("ch", "s1", Kind.DATA, 7, 12.5, 3.0, payload, live)
    assert frame.payload is payload
    assert is_head_of(head, part)
    assert parts_size(head, part) == len(encode(topic, Kind.DATA, 7, 12.5, payload, 3.0))


_HEAD, _PART = encode_parts(session_topic("ch", "s1"), 1, 1.0, b"x" * 10)


@pytest.mark.parametrize(
    ("head", "part", "reason"),
    [
        (_HEAD, None, "no part after it"),
        (_HEAD, b"x" * 9, "announces 10 bytes, the part has 9"),
        (_HEAD + b"\x00", _PART, "need 12"),
        (_HEAD[:-1], _PART, "need 12"),
        (encode(session_topic("ch", "s1"), Kind.DATA, 1, 1.0), _PART, "parted head was expected"),
        (_HEAD.replace(b"/\x04\x41", b"/\x04\x42", 1), _PART, "END frame with the parted flag"),
        (_HEAD.replace(b"ch/s1/", b"ch/!/", 1), _PART, "DATA frame on the control topic"),
        (_HEAD.replace(b"ch/s1/", b"ch/s 1/", 1), _PART, "bad name"),
    ],
)
def test_bad_two_part_messages_are_malformed(head: bytes, part: bytes | None, reason: str) -> None:
    """A head without its part, of another length, cut or padded, on another kind or
    topic: MalformedMessageError, and is_head_of says no."""
    with pytest.raises(MalformedMessageError, match=reason):
        decode_parts(head, part)
    assert part is None or not is_head_of(head, part)


def test_a_parted_head_alone_is_no_frame() -> None:
    """decode() refuses a head: the message is incomplete without its part."""
    with pytest.raises(MalformedMessageError, match="parted flag and no part"):
        decode(_HEAD)


def test_non_bytes_parts_are_malformed() -> None:
    """decode_parts checks its arguments' types as decode does."""
    with pytest.raises(MalformedMessageError, match="must be bytes"):
        decode_parts(bytearray(_HEAD), _PART)
    with pytest.raises(MalformedMessageError, match="must be bytes"):
        decode_parts(_HEAD, memoryview(_PART))
