"""CPU per message of radio's hot paths and their steps, compiled beside pure Python.

``python -m tools.bench.cores`` runs each measurement in child processes,
alternating the compiled and the pure build (``RADIO_PURE=1``), and prints medians
and ratios; ``make bench`` puts the same figures in the benchmark page. The child
(``--child``) times one build: the subscriber's ``Tuner.take`` over runs of 256 DATA
frames of 100 bytes (without and with a TTL), as a Subscriber calls it; the
publisher's ``SessionState.frame``; and the send path step by step, on a bound
socket nobody listens to: raw pyzmq's ``Socket.send``, radio's ``Publisher.send``
and ``send_many``, and what ``send`` is made of (the lock, the clock, pyzmq's
Cython send). CPU time (``time.process_time``), best of 3.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable

from tools import child_env

FRAMES = int(os.environ.get("RADIO_BENCH_FRAMES", "200000"))  # per measurement: see profile
PAYLOAD = b"x" * 100
RUN = 256  # frames a Subscriber reads off its socket at a time (radio.sockets.READ_FRAMES)


def _tuner_take(ttl: float) -> Callable[[], float]:
    from radio.core.names import session_topic
    from radio.core.tuner import Tuner
    from radio.core.wire import Kind, encode

    now = time.monotonic()  # send times are the publisher's monotonic clock (version 3)
    topic = session_topic("bench", "s1")
    frames = [encode(topic, Kind.DATA, seq, now, PAYLOAD, ttl) for seq in range(1, FRAMES + 1)]
    runs = [frames[start : start + RUN] for start in range(0, FRAMES, RUN)]

    def run() -> float:
        tuner = Tuner("bench")
        tuner.tune_in("s1")
        ready: deque[object] = deque()
        take, append, clear = tuner.take, ready.append, ready.clear
        start = time.process_time()
        for frames_read in runs:  # as a Subscriber: a run read off the socket, then consumed
            take(frames_read, append)
            clear()
        elapsed = time.process_time() - start
        assert tuner.stats.received == FRAMES, tuner.stats
        return elapsed

    return run


def _session_frame() -> float:
    from radio.core.names import session_topic
    from radio.core.session import SessionState

    state = SessionState("bench", session_topic("bench", "s1"), max_frame=1 << 20)
    frame, now = state.frame, time.monotonic()
    start = time.process_time()
    for _ in range(FRAMES):
        frame(PAYLOAD, 0.0, now)
    return time.process_time() - start


def _timed(step: Callable[[], object]) -> Callable[[], float]:
    """A run calling *step* `FRAMES` times; returns the CPU seconds it took."""

    def run() -> float:
        start = time.process_time()
        for _ in range(FRAMES):
            step()
        return time.process_time() - start

    return run


def _send_steps() -> dict[str, Callable[[], float]]:
    """The send path, whole and step by step, on sockets bound and never connected to."""
    import threading

    import zmq

    from radio import Publisher
    from radio.core.names import session_topic
    from radio.core.wire import HEADER

    raw: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
    raw.bind("tcp://127.0.0.1:*")
    pub = Publisher("tcp://127.0.0.1:*", channel="bench", hwm=0)
    pub.open_session("s1")
    topic, lock, send = session_topic("bench", "s1"), threading.Lock(), pub._send
    frame = topic + b"h" * HEADER.size + PAYLOAD
    many = [PAYLOAD] * RUN

    def locked() -> None:
        with lock:
            pass

    def send_many() -> float:
        start = time.process_time()
        for _ in range(FRAMES // RUN):
            pub.send_many("s1", many)
        return (time.process_time() - start) * FRAMES / (FRAMES // RUN * RUN)

    return {
        "raw_send": _timed(lambda: raw.send(topic + PAYLOAD)),
        "radio_send": _timed(lambda: pub.send("s1", PAYLOAD)),
        "radio_send_many": send_many,
        "step_lock": _timed(locked),
        "step_clock": _timed(time.monotonic),
        "step_cython_send": _timed(lambda: send(frame, zmq.NOBLOCK)),
        "step_call": _timed(lambda: None),
    }


STEPS: dict[str, str] = {
    "raw_send": "raw pyzmq `Socket.send` of topic + payload",
    "radio_send": "radio `Publisher.send`",
    "radio_send_many": "radio `Publisher.send_many`, per message (256 a call)",
    "session_frame": "step: `SessionState.frame` (seq, header, frame)",
    "step_lock": "step: the socket's lock taken and released (`with`)",
    "step_clock": "step: a clock reading (`time.monotonic`)",
    "step_cython_send": "step: pyzmq's Cython send of the frame",
    "step_call": "(the timing loop's own call, in every figure)",
    "tuner_take": "receive: `Tuner.take` per frame",
    "tuner_take_ttl": "receive: `Tuner.take` per frame with a TTL",
}
"""What each measurement of `child` is, in the order the benchmark page lists them."""


def child(rounds: int) -> dict[str, object]:
    """Time each measurement *rounds* times in this process; the best of each, ns/message."""
    import radio.compiled

    runs: dict[str, Callable[[], float]] = {
        "tuner_take": _tuner_take(0.0),
        "tuner_take_ttl": _tuner_take(60.0),
        "session_frame": _session_frame,
        **_send_steps(),
    }
    best = {name: min(run() for _ in range(rounds)) * 1e9 / FRAMES for name, run in runs.items()}
    return {"compiled": radio.compiled.ACTIVE, "ns_per_message": best}


def profile(pairs: int, frames: int = FRAMES) -> dict[str, dict[str, float]]:
    """Median ns per message of each measurement, by build, over *pairs* alternating pairs.

    Each measurement calls its path *frames* times in a child process.
    """
    results: dict[str, dict[str, list[float]]] = {"compiled": {}, "pure": {}}
    for _ in range(pairs):
        for mode in ("compiled", "pure"):
            env = child_env(
                RADIO_PURE="1" if mode == "pure" else "0", RADIO_BENCH_FRAMES=str(frames)
            )
            out = subprocess.run(
                [sys.executable, "-m", "tools.bench.cores", "--child"],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            record = json.loads(out)
            if record["compiled"] != (mode == "compiled"):
                raise SystemExit(f"asked for {mode}, got compiled={record['compiled']}")
            for name, value in record["ns_per_message"].items():
                results[mode].setdefault(name, []).append(value)
    return {
        mode: {name: statistics.median(values) for name, values in by_name.items()}
        for mode, by_name in results.items()
    }


def main() -> None:
    """Alternate compiled and pure children; print each one's figures, then medians, ratios."""
    if "--child" in sys.argv:
        print(json.dumps(child(rounds=3)))
        return
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    medians = profile(pairs)
    print(f"median ns/message over {pairs} runs each (best of 3 in each run):")
    for name, pure in medians["pure"].items():
        compiled = medians["compiled"][name]
        print(f"  {name:16} pure {pure:7.1f}  compiled {compiled:7.1f}  x{pure / compiled:.2f}")


if __name__ == "__main__":
    main()
