"""radio._hot, the hot loops in C: the bytes they write, the frames they read, the fallbacks."""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import signal
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

import radio.compiled
from radio import ClosedError, Message, Publisher, Subscriber
from radio.core.batch import Batch
from radio.core.names import session_topic
from radio.core.runs import take_batch, take_run
from radio.core.transmitter import Transmitter
from radio.core.wire import HEADER, Kind, decode, decode_records, encode, frame_prefix
from radio.errors import MalformedMessageError
from radio.hot import MODULE
from tests.helpers import DEADLINE_S, wait_until

ROOT = Path(__file__).resolve().parents[1]
VECTORS: dict[str, Any] = json.loads((ROOT / "docs" / "protocol" / "vectors.json").read_text())
PURE = os.environ.get("RADIO_PURE", "") not in ("", "0")


@pytest.fixture
def hot() -> ModuleType:
    """The bound C module; this test does not apply to the pyzmq paths (RADIO_PURE=1)."""
    if PURE:
        pytest.skip("RADIO_PURE is set: the pyzmq paths run, tested by the rest of the suite")
    assert MODULE is not None, radio.compiled.HOT_REASON
    return MODULE


_PAIRS = itertools.count()


@contextmanager
def _pair() -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """A PUSH and a PULL connected over inproc (a fresh name: an endpoint outlives close)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    push, pull = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    name = f"inproc://radio-hot-{next(_PAIRS)}"
    try:
        push.bind(name)
        pull.connect(name)
        yield push, pull
    finally:
        push.close(linger=0)
        pull.close(linger=0)


@pytest.fixture
def pair() -> Iterator[tuple[zmq.Socket[bytes], zmq.Socket[bytes]]]:
    """A raw peer that sends what it is told, and the socket that reads it."""
    with _pair() as sockets:
        yield sockets


def _data_vectors() -> list[dict[str, Any]]:
    return [v for v in VECTORS["frames"] if v["expect"].get("kind") == "DATA"]


@pytest.mark.parametrize("vector", _data_vectors(), ids=lambda v: v["name"])
def test_the_fast_path_writes_each_data_vector(hot: ModuleType, vector: dict[str, Any]) -> None:
    """The C writer's DATA frame is the recorded one, byte for byte."""
    want = vector["expect"]
    topic = session_topic(want["channel"], want["session"])
    prefix = frame_prefix(
        topic, Kind.DATA, live=want["live"], publisher=bytes.fromhex(want["publisher"])
    )
    frame = hot.encode(
        prefix, want["seq"], want["sent_at"], want["ttl"], bytes.fromhex(want["payload"])
    )
    assert frame.hex() == vector["hex"]


@settings(max_examples=300, deadline=None)
@given(
    seq=st.integers(0, 2**64 - 1),
    sent_at=st.floats(allow_nan=False, allow_infinity=False),
    ttl=st.floats(0.0, 1e9),
    payload=st.binary(max_size=300),
    live=st.booleans(),
    publisher=st.binary(min_size=8, max_size=8),
)
def test_the_fast_path_writes_what_wire_writes(
    seq: int, sent_at: float, ttl: float, payload: bytes, live: bool, publisher: bytes
) -> None:
    """For any fields, the C writer's frame equals `wire.encode`'s."""
    if MODULE is None:
        pytest.skip("the hot loops are not built (see radio.compiled.HOT_REASON)")
    topic = session_topic("ch", "s1")
    prefix = frame_prefix(topic, Kind.DATA, live=live, publisher=publisher)
    want = encode(topic, Kind.DATA, seq, sent_at, payload, ttl, live=live, publisher=publisher)
    assert MODULE.encode(prefix, seq, sent_at, ttl, payload) == want


def _sent(push: zmq.Socket[bytes], messages: list[list[bytes]]) -> list[bytes]:
    for parts in messages:
        push.send_multipart(parts)
    return [frame for parts in messages for frame in parts]


def _read_all(socket: Any, count: int, **bounds: int) -> list[list[bytes]]:
    """Every read until *count* frames came, each read's frames a list of its own (each
    read's largest frame as the socket says)."""
    reads: list[list[bytes]] = []

    def more() -> bool:
        frames = socket.read(**bounds)
        if frames:
            reads.append(frames)
            assert socket.largest == max(map(len, frames))  # what Tuner.take trusts
        return sum(map(len, reads)) >= count

    wait_until(more, what=f"{count} frames read")
    return reads


@settings(max_examples=60, deadline=None)
@given(
    messages=st.lists(
        st.lists(st.binary(max_size=2000), min_size=1, max_size=5), min_size=1, max_size=40
    ),
    max_frames=st.integers(1, 300),
)
def test_reads_return_the_frames_sent_in_order_never_half_a_message(
    messages: list[list[bytes]], max_frames: int
) -> None:
    """Any messages read in any bounds come back whole, in order, each read ending a message."""
    if MODULE is None:
        pytest.skip("the hot loops are not built (see radio.compiled.HOT_REASON)")
    with _pair() as (push, pull):
        frames = _sent(push, messages)
        reads = _read_all(MODULE.Socket(pull), len(frames), max_frames=max_frames)
        assert [frame for read in reads for frame in read] == frames
        ends = set()  # the frame counts at which a message ends
        total = 0
        for parts in messages:
            total += len(parts)
            ends.add(total)
        done = 0
        for read in reads:
            done += len(read)
            assert done in ends  # no read stops inside a message


def test_a_message_of_more_parts_than_one_round_comes_whole(
    hot: ModuleType, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
) -> None:
    """A junk message of 1,000 parts (a round holds 256) is read whole, in order, in one read."""
    push, pull = pair
    parts = [b"%d" % i for i in range(1000)]
    frames = _sent(push, [parts, [b"after"]])
    reads = _read_all(hot.Socket(pull), len(frames))
    assert reads[0][:1000] == parts
    assert [frame for read in reads for frame in read] == frames


def test_large_frames_end_a_read_at_the_byte_bound(
    hot: ModuleType, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
) -> None:
    """Frames of 1 MiB each: a read stops after the one that reached its byte bound."""
    push, pull = pair
    big = [os.urandom(2**20) for _ in range(3)]
    frames = _sent(push, [[frame] for frame in big])
    reads = _read_all(hot.Socket(pull), len(frames))
    assert reads == [[frame] for frame in big]


def test_empty_frames_and_an_idle_socket(
    hot: ModuleType, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
) -> None:
    """Empty frames are frames; a socket with nothing waiting reads ``[]``."""
    push, pull = pair
    socket = hot.Socket(pull)
    assert socket.read() == []
    frames = _sent(push, [[b""], [b"", b""]])
    assert [frame for read in _read_all(socket, 3) for frame in read] == frames


def test_a_detached_socket_raises_instead_of_touching_libzmq(
    hot: ModuleType, pair: tuple[zmq.Socket[bytes], zmq.Socket[bytes]]
) -> None:
    """After its owner detached it (closing), a read or send raises ENOTSOCK."""
    socket = hot.Socket(pair[1])
    socket.detach()
    assert not socket.attached
    with pytest.raises(zmq.ZMQError) as read:
        socket.read()
    assert read.value.errno == zmq.ENOTSOCK
    with pytest.raises(zmq.ZMQError) as sent:
        socket.send_bytes(b"x")
    assert sent.value.errno == zmq.ENOTSOCK


def _listening(
    pub: Publisher, raw_subs: list[zmq.Socket[bytes]], payload: bytes, ttl: float | None
) -> tuple[zmq.Socket[bytes], bytes]:
    """A raw SUB on *pub*'s new session s1, and the first frame it heard of *payload*.

    *pub* sends through C (its `Sender`); it sends *payload* until the SUB hears it.
    """
    session = pub.open_session("s1")
    sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    raw_subs.append(sub)
    sub.subscribe(session_topic("ch", "s1"))
    sub.connect(pub.endpoint)
    assert pub.send.__self__.__class__.__name__ == "Sender"  # type: ignore[attr-defined]

    def heard() -> bytes | None:
        pub.send(session, payload, ttl=ttl)
        return sub.recv(zmq.NOBLOCK) if sub.poll(50) else None

    frame = wait_until(heard, what="a frame of the session")
    assert frame is not None
    return sub, frame


def test_the_publisher_sends_through_c_the_frame_wire_would(
    hot: ModuleType, raw_subs: list[zmq.Socket[bytes]]
) -> None:
    """A raw SUB receives from `Publisher.send`'s C path the frame `wire.encode` makes."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        _, frame = _listening(pub, raw_subs, b"payload", 2.5)
        fields = decode(frame)
        assert fields.kind == Kind.DATA
        assert fields.payload == b"payload"
        assert fields.ttl == 2.5
        assert math.isfinite(fields.sent_at)
        prefix = frame[: len(frame) - 24 - len(b"payload")]
        assert hot.encode(prefix, fields.seq, fields.sent_at, 2.5, b"payload") == frame


def test_a_batched_send_takes_the_socket_only_for_a_frame(
    hot: ModuleType, raw_subs: list[zmq.Socket[bytes]]
) -> None:
    """With the socket's lock held elsewhere, sends that complete no batch still return at
    once (they never touch the socket); the one that completes it leaves the frame to be
    sent, and it arrives whole once the lock is let go."""
    with Publisher("tcp://127.0.0.1:*", channel="ch", batch_size=4, batch_delay=60.0) as pub:
        sub, _ = _listening(pub, raw_subs, b"hello", None)
        pub.flush()
        while sub.poll(200):
            sub.recv()
        first = pub.send("s1", b"probe") + 1  # the batch holds one now
        wire = pub._wire  # the socket's lock, as the service thread would hold it
        sent: list[int] = []
        with wire:
            worker = threading.Thread(
                target=lambda: sent.extend(pub.send("s1", b"m%d" % i) for i in range(3))
            )
            worker.start()
            worker.join(DEADLINE_S)
            assert not worker.is_alive(), "a batched send waited for the socket"
        assert sent == [first, first + 1, first + 2]

        def batch() -> bytes | None:
            return sub.recv() if sub.poll(50) else None

        frame = wait_until(batch, what="the completed batch")
        assert frame is not None
        fields = decode(frame)
        assert (fields.kind, fields.seq) == (Kind.BATCH, first - 1)
        offset = len(session_topic("ch", "s1")) + HEADER.size
        payloads = [p for _, p in decode_records(frame, offset)]
        assert payloads == [b"probe", b"m0", b"m1", b"m2"]


def test_send_many_in_c_packs_the_batches_the_core_packs(
    hot: ModuleType, raw_subs: list[zmq.Socket[bytes]]
) -> None:
    """`Publisher.send_many`'s C path sends, byte for byte, the frames of
    `SessionState.frames` (BATCH runs bounded by count and frame size, DATA for a run
    of one or a payload too large for a record), for random lists of payloads."""
    rng = random.Random(20)
    limit = 2000
    with Publisher("tcp://127.0.0.1:*", channel="ch", max_message_size=limit) as pub:
        sub, frame = _listening(pub, raw_subs, b"hello", None)
        session = "s1"
        assert pub.send_many.__self__.__class__.__name__ == "Sender"  # type: ignore[attr-defined]
        mirror = Transmitter("ch", max_frame=limit, publisher_id=decode(frame).publisher)
        mirror.open("s1")
        state = mirror.session("s1")
        while sub.poll(0):
            sub.recv()
        for case in range(40):
            room = state.max_payload
            sizes = [
                rng.choice([0, 1, 100, room // 3, room - 12, room - 11, room])
                for _ in range(rng.choice([1, 2, 5, 255, 256, 257, 600]))
            ]
            payloads = [bytes([case % 256]) * size for size in sizes]
            ttl = rng.choice([None, 2.5])
            before = pub.send_many(session, [], ttl)  # the seq before them
            assert pub.send_many(session, payloads, ttl) == before + len(payloads)
            state.seq = before
            planned = state.frames(payloads, ttl or 0.0, 0.0)
            assert planned is not None
            got: list[bytes] = []
            for _ in range(len(planned)):
                assert sub.poll(int(DEADLINE_S * 1000)), f"case {case}: {len(got)} frames"
                got.append(sub.recv())
            state.seq = before
            expected = state.frames(payloads, ttl or 0.0, decode(got[0]).sent_at)
            assert got == expected, f"case {case}: sizes {sizes}"
            assert not sub.poll(0)


def test_what_the_c_path_does_not_take_goes_the_python_way(hot: ModuleType) -> None:
    """bytearray payloads, int TTLs, a bad TTL and a closed session behave as in Python."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        session = pub.open_session("s1")
        assert pub.send(session, bytearray(b"a")) == 1
        assert pub.send(session, b"b", ttl=2) == 2
        assert pub.send_many(session, [b"c", memoryview(b"d")], ttl=1) == 4
        assert pub.send_many(session, iter([b"e", b"f"])) == 6
        assert pub.send_many(session, []) == 6
        with pytest.raises(ValueError, match="ttl"):
            pub.send(session, b"x", ttl=-1.0)
        with pytest.raises(TypeError, match="payload must be bytes"):
            pub.send(session, "text")  # type: ignore[arg-type]
        pub.close_session(session)
        with pytest.raises(Exception, match="s1"):
            pub.send(session, b"late")
    with pytest.raises(ClosedError):
        pub.send(session, b"after close")


_LEAD = frame_prefix(session_topic("ch", "s1"), Kind.DATA, live=True, publisher=b"pub-0001")
_BATCH_LEAD = frame_prefix(session_topic("ch", "s1"), Kind.BATCH, live=True, publisher=b"pub-0001")
_PLAIN_BATCH_LEAD = frame_prefix(session_topic("ch", "s1"), Kind.BATCH, publisher=b"pub-0001")


def _records(draw: st.DrawFn) -> tuple[int, bytes]:
    """A BATCH payload's records (1 to 300: past 256 is malformed), maybe cut short."""
    count = draw(st.sampled_from([1, 2, 3, 256, 257]) | st.integers(1, 8))
    stamp = draw(st.sampled_from([100.0, 0.0, -1.0, math.nan]) | st.floats(0.0, 200.0))
    records = b"".join(struct.pack("!dI", stamp, 2) + b"r%d" % (n % 10) for n in range(count))
    if draw(st.integers(0, 9)) == 0:
        records = records[: draw(st.integers(0, len(records)))]
    return count, records


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[bytes], int, float, float]:
    """Frames of a run as a publisher (or a liar) sends them, and the state before them."""
    last = draw(st.sampled_from([-1, 0, 5, 2**64 - 2, 2**64 - 1]) | st.integers(0, 1000))
    frames: list[bytes] = []
    seq = max(last, 0)
    shapes = ["next", "next", "next", "skip", "repeat", "junk", "other", "batch", "batch"]
    for _ in range(draw(st.integers(0, 12))):
        shape = draw(st.sampled_from([*shapes, "plain batch", "zero"]))
        seq = min(seq + 1, 2**64 - 1) if shape != "skip" else min(seq + 3, 2**64 - 1)
        number = {"repeat": seq - 1, "zero": 0}.get(shape, seq)  # zero: 2^64 - 1 wrapped
        sent_at = draw(
            st.sampled_from([100.0, 99.0, 0.0, -1.0, math.inf, math.nan, 1e300])
            | st.floats(0.0, 200.0)
        )
        ttl = draw(st.sampled_from([0.0, 0.0, 0.5, 5.0, -1.0, math.nan, math.inf]))
        payload = draw(st.binary(max_size=20))
        lead = _LEAD if shape != "other" else _LEAD[:-1] + b"X"
        if shape.endswith("batch"):  # records of the run's lead (or of its unflagged kin)
            count, payload = _records(draw)
            lead = _BATCH_LEAD if shape == "batch" else _PLAIN_BATCH_LEAD
            seq = min(seq + count - 1, 2**64 - 1)
        frame = lead + struct.pack("!Qdd", number, sent_at, ttl) + payload
        frames.append(frame[: draw(st.integers(0, len(frame)))] if shape == "junk" else frame)
    watch = draw(st.sampled_from([-math.inf, 0.0, 1.0, 50.0, math.inf]))
    skew = draw(st.sampled_from([0.0, -3.0, 2.5]))
    return frames, last, watch, skew


@settings(max_examples=1500, deadline=None)
@given(
    run=_runs(),
    index=st.integers(0, 3),
    now=st.floats(90.0, 110.0),
    due=st.sampled_from([math.inf, -math.inf]) | st.floats(90.0, 110.0),
)
def test_the_c_run_takes_what_take_run_takes(
    run: tuple[list[bytes], int, float, float], index: int, now: float, due: float
) -> None:
    """Differential fuzz: the C twin takes the same frames, makes the same messages and
    returns the same state as the pure `take_run`, whatever the frames (gaps, repeats,
    junk, another lead, NaN and infinite stamps and TTLs, seqs at 2^64, BATCH frames
    of the lead whole, damaged, with a TTL or without the LIVE flag)."""
    if MODULE is None:
        pytest.skip("the hot loops are not built (see radio.compiled.HOT_REASON)")
    frames, last, watch, skew = run
    results = []
    for take in (take_run, MODULE.take_run):
        out: list[Message] = []
        state = take(
            frames, index, _LEAD, "ch", "s1", last, 7.0, skew, watch, due, 1000.0,
            lambda: now, out.append,
        )  # fmt: skip
        results.append((state, out))
    (pure_state, pure_out), (c_state, c_out) = results
    assert c_state == pure_state
    assert c_out == pure_out
    assert all(type(message) is Message for message in c_out)


@settings(max_examples=300, deadline=None)
@given(
    run=_runs(),
    parted=st.sets(st.integers(0, 12), max_size=2),
    limit=st.sampled_from([-1, -1, 40, 120]),
    now=st.floats(90.0, 110.0),
)
def test_read_on_takes_off_the_socket_what_take_run_takes_from_frames(
    run: tuple[list[bytes], int, float, float], parted: set[int], limit: int, now: float
) -> None:
    """Differential fuzz of the fused read: `Socket.read_on` passes on the messages that
    `take_run` takes from the same frames read (stopping at a message of two parts or
    one over *limit*), tells `continued` how far it went, and returns the frames after."""
    if MODULE is None:
        pytest.skip("the hot loops are not built (see radio.compiled.HOT_REASON)")
    frames, last, watch, skew = run
    messages = [[frame, b"part"] if i in parted else [frame] for i, frame in enumerate(frames)]
    read = [frame for parts in messages for frame in parts]
    stop = next(
        (i for i, parts in enumerate(messages) if len(parts) > 1 or 0 <= limit < len(parts[0])),
        len(messages),
    )
    state = (_LEAD, "ch", "s1", last, 7.0, skew, watch, math.inf, 1000.0, lambda: now)
    expected: list[Message] = []
    index, *went = take_run(frames[:stop], 0, *state, expected.append)
    with _pair() as (push, pull):
        _sent(push, messages)
        socket = MODULE.Socket(pull)
        if messages:
            wait_until(lambda: pull.poll(0) != 0, what="the frames")
        out: list[Message] = []
        told: list[tuple[int, float, int]] = []
        rest = socket.read_on(state, out.append, lambda *how: told.append(how), limit)
        assert out == expected
        assert told == ([tuple(went)] if went[2] else [])
        assert socket.went_on == went[2]
        assert rest == read[index:]  # none before *stop* has a part: an index of both


def test_an_honest_run_goes_through_c_whole(hot: ModuleType) -> None:
    """1,000 in-order frames, TTLs and all: the C run takes every one, as `take_run` does."""
    frames = [
        _LEAD + struct.pack("!Qdd", seq, 100.0 + seq / 1000, 5.0 if seq % 2 else 0.0) + b"p%d" % seq
        for seq in range(1, 1001)
    ]
    out: list[Message] = []
    state = hot.take_run(
        frames, 0, _LEAD, "ch", "s1", 0, 0.0, 0.0, 0.0, math.inf, 10.0, lambda: 101.0, out.append
    )
    assert state == (1000, 1000, 101.0, 1000)
    assert out[0] == Message("ch", "s1", 1, 110.001, 5.0, b"p1")
    assert out[1] == Message("ch", "s1", 2, 110.002, None, b"p2")


def test_a_run_ends_at_the_last_seq_there_is(hot: ModuleType) -> None:
    """After seq 2^64 - 1 no frame is the next one: a seq 0 after it (``last + 1`` wrapped
    in 64 bits) stops the run in C as in Python, read off a socket or from frames."""
    frames = [_LEAD + struct.pack("!Qdd", seq, 100.0, 0.0) + b"p" for seq in (2**64 - 1, 0)]
    state = (_LEAD, "ch", "s1", 2**64 - 2, 7.0, 0.0, 0.0, math.inf, 0.0, lambda: 100.0)
    for take in (take_run, hot.take_run):
        out: list[Message] = []
        assert take(frames, 0, *state, out.append) == (1, 2**64 - 1, 100.0, 1)
        assert [m.seq for m in out] == [2**64 - 1]
    with _pair() as (push, pull):
        _sent(push, [[frame] for frame in frames])
        wait_until(lambda: pull.poll(0) != 0, what="the frames")
        out = []
        assert hot.Socket(pull).read_on(state, out.append, lambda *_: None) == frames[1:]
        assert [m.seq for m in out] == [2**64 - 1]


def test_batches_of_the_lead_go_on_in_the_run(hot: ModuleType) -> None:
    """BATCH frames of the run's lead (as `batch_size` and `send_many` send them) between
    DATA frames: the C run takes them whole, as `take_run` does, and stops at a damaged one."""
    records = b"".join(struct.pack("!dI", 100.5, 2) + b"r%d" % n for n in range(3))
    frames = [
        _LEAD + struct.pack("!Qdd", 1, 100.0, 0.0) + b"d1",
        _BATCH_LEAD + struct.pack("!Qdd", 2, 100.5, 0.0) + records,  # seqs 2, 3, 4
        _LEAD + struct.pack("!Qdd", 5, 101.0, 0.0) + b"d5",
        _BATCH_LEAD + struct.pack("!Qdd", 6, 101.5, 0.0) + records[:-1],  # cut short
    ]
    for take in (take_run, hot.take_run):
        out: list[Message] = []
        state = take(
            frames, 0, _LEAD, "ch", "s1", 0, 0.0, 0.0, 0.0, math.inf, 10.0, lambda: 0.0, out.append
        )
        assert state == (3, 5, 101.0, 5)
        assert [m.seq for m in out] == [1, 2, 3, 4, 5]
        assert out[3] == Message("ch", "s1", 4, 110.5, None, b"r2")


@st.composite
def _batches(draw: st.DrawFn) -> bytes:
    """The records of a BATCH frame, honest or damaged (cut, overrunning, bad stamps, too many)."""
    records = b""
    count = draw(st.sampled_from([0, 1, 2, 5, 64, 256, 257]))
    stamps = st.sampled_from([1.0, 0.0, -0.5, math.inf, math.nan]) | st.floats(0.0, 1e6)
    for _ in range(count):
        payload = draw(st.binary(max_size=8)) if count < 64 else b"p"
        records += struct.pack("!dI", draw(stamps) if count < 64 else 2.0, len(payload)) + payload
    damage = draw(st.sampled_from(["none", "none", "cut", "overrun"]))
    if damage == "cut" and records:
        records = records[: draw(st.integers(0, len(records) - 1))]
    elif damage == "overrun":
        records += struct.pack("!dI", 1.0, draw(st.integers(1, 2**32 - 1)))
    return b"head" + records


@settings(max_examples=800, deadline=None)
@given(frame=_batches(), seq=st.integers(1, 2**60))
def test_the_c_batch_takes_what_take_batch_takes(frame: bytes, seq: int) -> None:
    """Differential fuzz: the C twin passes on the same messages, or raises the same error
    having passed on none, as the pure `take_batch`, for honest and damaged batches."""
    if MODULE is None:
        pytest.skip("the hot loops are not built (see radio.compiled.HOT_REASON)")
    results = []
    for take in (take_batch, MODULE.take_batch):
        out: list[Message] = []
        try:
            results.append((take(frame, 4, seq, "ch", "s1", 10.0, out.append), out))
        except MalformedMessageError as exc:
            results.append((str(exc), out))
    assert results[1] == results[0]
    assert all(type(message) is Message for message in results[1][1])


_BATCH_OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.sampled_from([0.0, 0.0, 2.5]),  # ttl: a change displaces the batch
            st.floats(0.0, 0.01),  # time since the previous message
            st.binary(max_size=300),
        ),
        st.tuples(st.just("flush")),
        st.tuples(st.just("due"), st.floats(0.0, 0.01)),
        st.tuples(st.just("live"), st.booleans()),
    ),
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(ops=_BATCH_OPS, size=st.integers(2, 64), max_bytes=st.sampled_from([400, 2000, 65536]))
def test_the_c_batch_makes_the_frames_batch_makes(
    ops: list[tuple[Any, ...]], size: int, max_bytes: int
) -> None:
    """Differential fuzz: any adds, flushes, due checks and live flips give the same
    frames, lengths and answers from the C twin as from `radio.core.batch.Batch`; and an
    add the C twin says completes nothing (`completes`: `Sender.send` then adds without
    the socket, ignoring what the add returns) never hands back a frame."""
    if MODULE is None:
        pytest.skip("the hot loops are not built (see radio.compiled.HOT_REASON)")
    topic = session_topic("ch", "s1")
    batches = [kind(topic, size, max_bytes, 0.001, b"pub-0001") for kind in (Batch, MODULE.Batch)]
    seq, now = 0, 100.0
    for op in ops:
        answers = []
        for batch in batches:
            if op[0] == "add":
                quiet = batch is batches[1] and not batch.completes(now + op[2], op[1], len(op[3]))
                answers.append(added := batch.add(seq + 1, now + op[2], op[1], op[3]))
                assert not (quiet and added is not None), "an add said to complete nothing"
            elif op[0] == "flush":
                answers.append(batch.flush())
            elif op[0] == "due":
                answers.append(batch.due(now + op[1]))
            elif batch.flush() is None:  # flush before a live flip, as SessionState does
                batch.set_live(op[1])
            answers.append(len(batch))
        if op[0] == "add":
            seq, now = seq + 1, now + op[2]
        assert answers[: len(answers) // 2] == answers[len(answers) // 2 :]


def test_the_c_lock_is_a_lock(hot: ModuleType) -> None:
    """acquire/release/locked/with, non-blocking and timed acquires, as threading.Lock."""
    lock = hot.Lock()
    assert not lock.locked()
    with lock:
        assert lock.locked()
        assert lock.acquire(blocking=False) is False
        assert lock.acquire(timeout=0.01) is False
    assert lock.acquire() is True
    lock.release()
    with pytest.raises(RuntimeError, match="release unlocked lock"):
        lock.release()
    with pytest.raises(ValueError, match="non-blocking"):
        lock.acquire(False, 1.0)


def test_a_condition_waits_and_wakes_on_the_c_lock(hot: ModuleType) -> None:
    """threading.Condition over the C lock (as the publisher's wait_for_listener uses it)."""
    condition = threading.Condition(hot.Lock())
    ready: list[int] = []

    def later() -> None:
        with condition:
            ready.append(1)
            condition.notify_all()

    with condition:
        threading.Timer(0.05, later).start()
        assert condition.wait_for(lambda: ready, timeout=DEADLINE_S)


def test_a_release_from_another_thread_wakes_a_waiter_on_the_c_lock(hot: ModuleType) -> None:
    """A waiter sleeps in the semaphore and wakes when another thread lets the lock go."""
    lock = hot.Lock()
    lock.acquire()
    timer = threading.Timer(0.05, lock.release)
    timer.start()
    started = time.monotonic()
    assert lock.acquire(timeout=DEADLINE_S) is True
    assert time.monotonic() - started < DEADLINE_S
    assert lock.locked()
    lock.release()
    timer.join()


@pytest.mark.parametrize("timeout", [DEADLINE_S, -1])
def test_ctrl_c_interrupts_a_blocked_acquire_of_the_c_lock(hot: ModuleType, timeout: float) -> None:
    """A SIGINT while the main thread waits for the C lock raises KeyboardInterrupt there,
    whether the wait has a deadline or none."""
    lock = hot.Lock()
    lock.acquire()
    handler = signal.signal(
        signal.SIGINT, signal.default_int_handler
    )  # even if run in the background
    timer = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            lock.acquire(timeout=timeout)
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, handler)
        lock.release()


def test_a_subclass_that_overrides_send_and_recv_keeps_them(hot: ModuleType) -> None:
    """The C calls shadow only the library's own methods, never an override."""
    calls: list[str] = []

    class Counting(Publisher):
        def send(self, session: str, payload: bytes, ttl: float | None = None) -> int:
            calls.append("send")
            return super().send(session, payload, ttl)

    class Listening(Subscriber):
        def recv(self, timeout: float | None = None) -> Message | None:
            calls.append("recv")
            return super().recv(timeout)

    with Counting("tcp://127.0.0.1:*", channel="ch") as pub:
        session = pub.open_session("s1")
        with Listening(pub.endpoint, channel="ch") as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener(session, timeout=DEADLINE_S)
            pub.send(session, b"x")
            assert sub.recv(DEADLINE_S) is not None
    assert calls[:2] == ["send", "recv"]


def test_ctrl_c_interrupts_a_recv_waiting_in_c(hot: ModuleType) -> None:
    """A SIGINT while `recv` waits for a message (in the C wait) raises KeyboardInterrupt,
    and the subscriber's lock is free after it."""
    with Subscriber("tcp://127.0.0.1:1", channel="ch") as sub:  # nobody there: it waits
        sub.tune_in("s1")
        handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
        timer.start()
        try:
            with pytest.raises(KeyboardInterrupt):
                sub.recv(DEADLINE_S)
        finally:
            timer.cancel()
            signal.signal(signal.SIGINT, handler)
        assert sub._lock.acquire(timeout=DEADLINE_S)
        sub._lock.release()
