"""The fast paths held to the careful ones: the publisher's send path on a real socket
(the bytes of wire.encode, with or without pyzmq's private fast send), and the tuner's
runs of plain DATA frames (the same yields, expiries and counters as one by one)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import zmq

import radio.compiled
import radio.sockets
from radio import Message, Publisher, Stats
from radio.core.air import BUCKET_S, WINDOW_S
from radio.core.names import session_topic
from radio.core.runs import Run, take_run
from radio.core.tuner import Tuner
from radio.core.wire import Kind, decode, encode, encode_batch
from radio.hot import MODULE
from tests.helpers import DEADLINE_S, wait_until


@pytest.mark.parametrize("fast", [True, False], ids=["private-send", "public-send"])
@pytest.mark.parametrize("live", [True, False])
@pytest.mark.parametrize("last_value", [False, True], ids=["plain", "last-value"])
def test_sent_frames_equal_wire_encode(
    fast: bool, live: bool, last_value: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every DATA frame on the wire is wire.encode of its fields, LIVE flag included,
    whether send uses pyzmq's private Cython send or the public one, and whether
    the session keeps its last value or not; `make test` runs it on both builds."""
    if not fast:
        monkeypatch.setattr(radio.sockets, "zmq", _WithoutBackend())
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=last_value) as pub:
        assert (pub._send.__class__.__name__ == "partial") is fast
        pub.open_session("s1")
        if not live:
            pub.open_session("s2")
        sub = zmq.Context.instance().socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.RCVTIMEO, round(DEADLINE_S * 1000))
            sub.subscribe(session_topic("c", "s1"))
            sub.subscribe(session_topic("c", "s1") + b"\x00raw-listener")
            sub.connect(pub.endpoint)
            wait_until(lambda: pub.listeners("s1") == 1, what="the raw listener")
            pub.send("s1", b"one")
            pub.send("s1", b"two", ttl=2.5)
            frames = [sub.recv() for _ in range(2)]
            instance = pub._core.publisher_id
        finally:
            sub.close(linger=0)
    topic = session_topic("c", "s1")
    for frame, (seq, payload, ttl) in zip(
        frames, [(1, b"one", 0.0), (2, b"two", 2.5)], strict=True
    ):
        sent_at, me = decode(frame).sent_at, decode(frame).publisher
        assert me == instance
        assert frame == encode(
            topic, Kind.DATA, seq, sent_at, payload, ttl, live=live, publisher=me
        )


class _WithoutBackend:
    """The zmq module as the publisher sees it, minus pyzmq's private backend."""

    def __getattr__(self, name: str) -> object:
        if name == "backend":
            raise AttributeError(name)
        return getattr(zmq, name)


_PUB = b"publish1"
_OFFSET = 100.0  # our monotonic clock minus the publisher's
_RUNS: list[Run] = [take_run] + ([MODULE.take_run] if MODULE is not None else [])


class _Clock:
    """A hand-moved clock (ours, monotonic and wall alike)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _reads(delay: float, ttl: float) -> list[tuple[float, list[tuple[int, float, float]]]]:
    """Reads ``(arrival, [(seq, sent_at, ttl), ...])`` of one session over 80 s.

    The first message arrives at once (the clock estimate's floor); every later one
    *delay* late (a standing queue), one to three a read, each 17th lost, each 5th
    without a TTL. So the first bucket's floor leaves the window after `WINDOW_S`,
    and the estimate must rise to the later floor as buckets open.
    """
    reads = [(1000.0, [(1, 1000.0 - _OFFSET, ttl)])]
    seq, at = 1, 1000.0
    while at < 1000.0 + WINDOW_S + 4 * BUCKET_S:
        at += 0.5
        batch = []
        for _ in range(1 + seq % 3):
            seq += 1 + (seq % 17 == 0)
            batch.append((seq, at - _OFFSET - delay, 0.0 if seq % 5 == 0 else ttl))
        reads.append((at, batch))
    return reads


def _play(
    reads: list[tuple[float, list[tuple[int, float, float]]]],
    frame: Callable[[int, float, float], bytes],
    *,
    run: Run = take_run,
    careful: bool = False,
) -> tuple[list[tuple[int, float, float | None, bytes]], Stats, float | None]:
    """What a tuner tuned in to s1 yields of *reads* (made frames by *frame*), its counters
    and its clock estimate at the end; *careful*: never on the fast path (pure cores only:
    a compiled tuner's methods cannot be patched)."""
    clock = _Clock(1000.0)
    tuner = Tuner("ch", clock, clock)
    tuner.run = run
    if careful:
        tuner._ready = lambda heard: False  # type: ignore[method-assign]
    tuner.tune_in("s1")
    out: list[Message] = []
    for at, messages in reads:
        clock.now = at
        tuner.take([frame(*message) for message in messages], out.append)
    yields = [(m.seq, m.sent_at, m.ttl, m.payload) for m in out]
    return yields, tuner.snapshot(), tuner.air.clock(_PUB).value


def _data(seq: int, sent_at: float, ttl: float) -> bytes:
    topic = session_topic("ch", "s1")
    return encode(topic, Kind.DATA, seq, sent_at, b"p%d" % seq, ttl, live=True, publisher=_PUB)


def _batch_of_one(seq: int, sent_at: float, ttl: float) -> bytes:
    topic = session_topic("ch", "s1")
    return encode_batch(topic, seq, ttl, [(sent_at, b"p%d" % seq)], live=True, publisher=_PUB)


@pytest.mark.parametrize("run", _RUNS, ids=["pure-run", "c-run"][: len(_RUNS)])
def test_the_fast_path_samples_the_clock_as_the_careful_path_does(run: Run) -> None:
    """DATA frames read in runs (`take_run`, or its C twin) and 1-record BATCH frames of
    the same messages (the careful path) give the same yields, expiries, counters and
    clock estimate. The estimate opens a bucket on the first sample `BUCKET_S` after
    the current one opened, on every path: so the floor of the first message leaves
    the window after `WINDOW_S`, the estimate rises to the later floor, and messages
    0.4 s late with a 0.3 s TTL are yielded again. (The fast path sampled only new
    lows, never opened a bucket, and kept expiring them.)"""
    reads = _reads(delay=0.4, ttl=0.3)
    fast = _play(reads, _data, run=run)
    assert fast == _play(reads, _batch_of_one, run=run)
    yields, stats, estimate = fast
    assert estimate == pytest.approx(_OFFSET + 0.4)
    assert stats.expired > 0
    assert stats.gaps > 0
    late = [seq for seq, _, ttl, _ in yields if ttl and seq > reads[-20][1][0][0]]
    assert late, "the estimate rose: the last messages with a TTL are yielded"


@pytest.mark.skipif(
    radio.compiled.MODULES["radio.core.tuner"], reason="a compiled tuner cannot be patched"
)
def test_data_frames_one_by_one_on_the_careful_path_as_on_the_fast_path() -> None:
    """The same DATA frames, each forced onto the careful path, as read in runs."""
    reads = _reads(delay=0.4, ttl=0.3)
    assert _play(reads, _data, careful=True) == _play(reads, _data)
