"""A presence flood from another process, raw libzmq beside radio: how long each call takes.

``python -m tools.soak.xpub_stall [subscriptions]`` floods a raw pyzmq XPUB set up
as radio's publisher sets its socket (``XPUB_VERBOSER``, the same high-water marks)
from a separate process (`tools.soak.flooder`): that many forged presence
subscriptions (200,000 by default), then the flooder leaves and libzmq unsubscribes
them all. Meanwhile one thread sends 100-byte messages in bursts (`SendTimes`) and,
with no radio code, reads the subscription events between bursts itself. It prints
the longest single call (``send`` or ``recv``) and the sends' 99th percentile:
libzmq adds a peer's queued subscriptions to its trie, and removes all of a
leaving peer's, inside whichever socket call processes them. `radio_flood` runs
the same flood and the same sender against a `radio.Publisher`; `compare` runs
both in turn, `REPEATS` times each, and pools the figures (``make adversity``
holds radio to `bound_met`).
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import zmq

from radio import Publisher
from radio.core.names import session_topic
from radio.settings import DEFAULT_HWM

BURST: Final[int] = 100
"""Sends in a row before the sender pauses (and, raw, reads the events)."""

PAUSE_S: Final[float] = 0.0005
"""The sender's pause between bursts: the flood gets its share of two cores."""

REPEATS: Final[int] = 3
"""Runs of each (raw, radio, raw, radio, ...) pooled by `compare`: one libzmq stall
varies by a factor of two from run to run on a shared machine."""

P99_FACTOR: Final[float] = 2.0
"""radio's 99th-percentile send may be at most this many times raw libzmq's."""

DEADLINE_S: Final[float] = 120.0
"""Longest a phase of the flood may take before the measurement gives up on it."""

PAYLOAD: Final[bytes] = b"x" * 100


@dataclass(frozen=True)
class StallFigures:
    """The calls of one run: every send's duration, and the longest call of any kind."""

    who: str
    subscriptions: int
    sends: int
    longest_send_s: float
    p99_send_s: float
    longest_call_s: float
    seconds: float
    times: array[float]


class SendTimes:
    """A thread that sends in bursts and records how long each `send` call took.

    *between* runs after each burst, in the same thread (raw: read the events).
    """

    def __init__(self, send: Callable[[], object], between: Callable[[], None]) -> None:
        self.times = array("d")
        self._send, self._between = send, between
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SendTimes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        clock, send, times = time.perf_counter, self._send, self.times
        while not self._stop.is_set():
            for _ in range(BURST):
                start = clock()
                send()
                times.append(clock() - start)
            self._between()
            time.sleep(PAUSE_S)  # sync-ok: paces the sender so the flood gets its share

    def figures(
        self, who: str, subscriptions: int, seconds: float, calls: float = 0.0
    ) -> StallFigures:
        """The figures of this run; *calls*: the longest call other than a send."""
        return _figures(who, subscriptions, self.times, calls, seconds)


def _figures(
    who: str, subscriptions: int, times: array[float], calls: float, seconds: float
) -> StallFigures:
    ordered = sorted(times)
    p99 = ordered[int(len(ordered) * 0.99)] if ordered else 0.0
    longest = ordered[-1] if ordered else 0.0
    return StallFigures(
        who, subscriptions, len(ordered), longest, p99, max(longest, calls), seconds, times
    )


def pooled(runs: list[StallFigures]) -> StallFigures:
    """The figures of several runs of one kind as if they were one."""
    times: array[float] = array("d")
    for run in runs:
        times.extend(run.times)
    calls = max(run.longest_call_s for run in runs)
    seconds = sum(run.seconds for run in runs)
    return _figures(runs[0].who, runs[0].subscriptions, times, calls, seconds)


def compare(count: int, repeats: int = REPEATS) -> tuple[StallFigures, StallFigures]:
    """Raw libzmq and radio under the same flood, in turn, *repeats* times; pooled."""
    raw: list[StallFigures] = []
    ours: list[StallFigures] = []
    for _ in range(repeats):
        raw.append(raw_flood(count))
        ours.append(radio_flood(count))
    return pooled(raw), pooled(ours)


def bound_met(raw: StallFigures, ours: StallFigures) -> tuple[bool, bool]:
    """Whether radio holds its bounds: (longest send, p99 send).

    Its longest send no longer than raw's longest call (send or recv), and its
    99th-percentile send within `P99_FACTOR` times raw's.
    """
    return (
        ours.longest_send_s <= raw.longest_call_s,
        ours.p99_send_s <= P99_FACTOR * raw.p99_send_s,
    )


class Flooder:
    """The flooding process (`tools.soak.flooder`): started, told to leave, reaped."""

    def __init__(self, endpoint: str, topic: bytes, count: int) -> None:
        self._proc = subprocess.Popen(  # noqa: S603 - this interpreter, radio's own module
            [sys.executable, "-m", "tools.soak.flooder", endpoint, topic.decode(), str(count)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def expect(self, line: str) -> None:
        """Wait for the flooder to print *line* (``sent``, ``left``)."""
        assert self._proc.stdout is not None
        got = self._proc.stdout.readline().strip()
        if got != line:
            raise RuntimeError(f"flooder printed {got!r}, not {line!r}")

    def leave(self) -> None:
        """Tell the flooder to close its socket, and wait until it did."""
        assert self._proc.stdin is not None
        self._proc.stdin.write("leave\n")
        self._proc.stdin.flush()
        self.expect("left")

    def __enter__(self) -> Flooder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()


def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Poll *condition* until it holds; raise after `DEADLINE_S`."""
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.01)  # sync-ok: polling a condition with a deadline


def raw_flood(count: int) -> StallFigures:
    """The flood against a raw XPUB whose own sending thread reads the events."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_VERBOSER, 1)
    xpub.setsockopt(zmq.SNDHWM, DEFAULT_HWM)
    xpub.setsockopt(zmq.RCVHWM, DEFAULT_HWM)
    port = xpub.bind_to_random_port("tcp://127.0.0.1")
    read, longest_recv = [0], [0.0]
    clock = time.perf_counter

    def events() -> None:
        while True:
            start = clock()
            try:
                xpub.recv(zmq.NOBLOCK)
            except zmq.Again:
                longest_recv[0] = max(longest_recv[0], clock() - start)
                return
            longest_recv[0] = max(longest_recv[0], clock() - start)
            read[0] += 1

    topic = session_topic("flood", "flooded")
    start = time.monotonic()
    try:
        with (
            Flooder(f"tcp://127.0.0.1:{port}", topic, count) as flooder,
            SendTimes(lambda: xpub.send(topic + b"!", zmq.NOBLOCK), events) as sender,
        ):
            flooder.expect("sent")
            wait_for(lambda: read[0] >= count, "the raw XPUB to read every subscription")
            flooder.leave()
            wait_for(lambda: read[0] >= 2 * count, "the raw XPUB to read every unsubscription")
    finally:
        xpub.close(linger=0)
    return sender.figures("raw libzmq", count, time.monotonic() - start, longest_recv[0])


def radio_flood(count: int) -> StallFigures:
    """The same flood and sender against a radio `Publisher` (its own thread reads events)."""
    with Publisher("tcp://127.0.0.1:*", channel="flood") as pub:
        session = pub.open_session("s")
        presence = pub._core.presence
        start = time.monotonic()
        with (
            Flooder(pub.endpoint, session_topic("flood", "flooded"), count) as flooder,
            SendTimes(lambda: pub.send(session, PAYLOAD), lambda: None) as sender,
        ):
            flooder.expect("sent")
            wait_for(lambda: presence.size + presence.refused >= count, "radio to hear it all")
            flooder.leave()
            wait_for(lambda: pub.channel_listeners() >= 0 and presence.size == 0, "radio to empty")
    return sender.figures("radio", count, time.monotonic() - start)


def main() -> None:
    """Entry point of ``python -m tools.soak.xpub_stall [subscriptions [repeats]]``."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else REPEATS
    raw, ours = compare(count, repeats)
    for figures in (raw, ours):
        print(
            f"{figures.who:>10}: {figures.subscriptions:,} subscriptions x {repeats},"
            f" {figures.sends:,} sends in {figures.seconds:.1f} s;"
            f" longest send {figures.longest_send_s * 1000:.1f} ms,"
            f" p99 send {figures.p99_send_s * 1000:.3f} ms,"
            f" longest call {figures.longest_call_s * 1000:.1f} ms"
        )
    longest, p99 = bound_met(raw, ours)
    print(f"radio's longest send <= raw's longest call: {longest}; p99 within 2x: {p99}")


if __name__ == "__main__":
    main()
