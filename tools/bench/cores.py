"""CPU per message of radio's pure cores, compiled beside pure Python (``RADIO_PURE=1``).

``python -m tools.bench.cores`` runs each measurement in child processes,
alternating the compiled and the pure build, and prints medians and ratios; the
child (``--child``) times one build: the subscriber's ``Tuner.take`` over runs of 256 DATA
frames of 100 bytes (without and with a TTL), as a Subscriber calls it, and the
publisher's ``SessionState.frame``. CPU time (``time.process_time``), best of 3.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections import deque
from collections.abc import Callable

from tools import child_env

FRAMES = 200_000
PAYLOAD = b"x" * 100
RUN = 256  # frames a Subscriber reads off its socket at a time (radio.subscriber.BATCH)


def _tuner_take(ttl: float) -> Callable[[], float]:
    from radio.names import session_topic
    from radio.tuner import Tuner
    from radio.wire import Kind, encode

    now = time.time()
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
    from radio.names import session_topic
    from radio.session import SessionState

    state = SessionState("bench", session_topic("bench", "s1"), max_frame=1 << 20)
    frame, now = state.frame, time.time()
    start = time.process_time()
    for _ in range(FRAMES):
        frame(PAYLOAD, 0.0, now)
    return time.process_time() - start


def child(rounds: int) -> dict[str, object]:
    """Time each measurement *rounds* times in this process; the best of each, ns/message."""
    import radio.compiled

    runs: dict[str, Callable[[], float]] = {
        "tuner_take": _tuner_take(0.0),
        "tuner_take_ttl": _tuner_take(60.0),
        "session_frame": _session_frame,
    }
    best = {name: min(run() for _ in range(rounds)) * 1e9 / FRAMES for name, run in runs.items()}
    return {"compiled": radio.compiled.ACTIVE, "ns_per_message": best}


def main() -> None:
    """Alternate compiled and pure children; print each one's figures, then medians, ratios."""
    if "--child" in sys.argv:
        print(json.dumps(child(rounds=3)))
        return
    pairs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    results: dict[str, dict[str, list[float]]] = {"compiled": {}, "pure": {}}
    for _ in range(pairs):
        for mode in ("compiled", "pure"):
            env = child_env(RADIO_PURE="1" if mode == "pure" else "0")
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
            print(mode, record["ns_per_message"], flush=True)
            for name, value in record["ns_per_message"].items():
                results[mode].setdefault(name, []).append(value)
    print(f"median ns/message over {pairs} runs each (best of 3 in each run):")
    for name, values in results["pure"].items():
        pure = statistics.median(values)
        compiled = statistics.median(results["compiled"][name])
        print(f"  {name:16} pure {pure:7.1f}  compiled {compiled:7.1f}  x{pure / compiled:.2f}")


if __name__ == "__main__":
    main()
