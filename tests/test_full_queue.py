"""A subscriber whose application falls behind keeps its process: libzmq's queue never fills."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import DEADLINE_S

# libzmq 4.3.5 aborts (SIGABRT, from its I/O thread) when a SUB's queue is full, so that
# it stopped reading the connection, and the connection ends (`!_io_error`,
# stream_engine_base.cpp:310), or when the application stalls past the heartbeat timeout
# with a full queue and then reads (`_input_stopped`, :396): upstream #4364, #3937, #4767.
# Each scenario runs in a child process, which an abort would kill.
# The first two run `python -m tools.soak.stalled_sub SCENARIO` (make adversity runs it too).
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("scenario", ["publisher-closes", "stall-then-read"])
def test_a_subscriber_that_falls_behind_keeps_its_process(scenario: str) -> None:
    """Issue 18: `Subscriber(hwm=10)`, not read while its publisher sends 20,000 messages
    and then closes (or while it stalls past the heartbeat timeout, then reads), aborted
    its process 3 times in 3 on a loaded machine: libzmq's queue was full, its reading
    stopped. The service thread now takes everything off the socket while the
    application does not read (on the old code about hwm of 20,000 were), drops what
    passes hwm and counts it as gaps, and the process lives."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.soak.stalled_sub", scenario],
        cwd=ROOT,
        capture_output=True,
        timeout=DEADLINE_S * 3,
        text=True,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    alive, taken, received, gaps = result.stdout.split()
    assert alive == "alive"
    # Everything was taken off the socket while the application did not read (libzmq's
    # queue never filled): about hwm decoded, the rest dropped past it and counted.
    assert int(taken) == 20_000
    assert int(received) + int(gaps) == 20_000
    assert int(gaps) >= 20_000 - 10 - 256  # hwm, plus at most one read past it


STALLING = textwrap.dedent(
    """
    import random, sys, threading, time
    from radio import Publisher, Subscriber

    random.seed(int(sys.argv[2]))
    beats = {"heartbeat": 0.05, "heartbeat_timeout": 0.15}
    pub = Publisher("tcp://127.0.0.1:*", channel="c", hwm=1000, **beats)
    sub = Subscriber(pub.endpoint, channel="c", hwm=1, reconnect_interval=0.01, **beats)
    pub.open_session("s")
    sub.tune_in("s")
    assert pub.wait_for_listener("s", timeout=10.0)
    done = threading.Event()

    def send():
        while not done.is_set():
            pub.send("s", b"x" * 2000)

    threading.Thread(target=send, daemon=True).start()
    end = time.monotonic() + float(sys.argv[1])
    read = 0
    while time.monotonic() < end:
        time.sleep(random.uniform(0.1, 0.4))  # sync-ok: the stall under test
        for _ in range(random.randint(1, 50)):
            if sub.recv(timeout=0) is None:
                break
            read += 1
    done.set()
    print("alive", read, sub.stats.gaps)
    """
)


@pytest.mark.slow
def test_a_subscriber_that_stalls_again_and_again_keeps_its_process() -> None:
    """Issue 18: an application that stalls past the heartbeat timeout again and again
    (0.1-0.4 s, heartbeats 0.05/0.15 s), reading a few messages between stalls, with
    `hwm=1` and a fast publisher. On the old code libzmq aborted the process within
    7-15 s, 5 runs in 5, with either assertion: `_input_stopped`
    (stream_engine_base.cpp:396, the race of upstream PR #4830) or `!_io_error`
    (:310). libzmq's queue never fills now, so its reading never stops: 20 s, alive."""
    result = subprocess.run(
        [sys.executable, "-c", STALLING, "20", "17"],
        capture_output=True,
        timeout=DEADLINE_S * 6,
        text=True,
    )
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    alive, read, gaps = result.stdout.split()
    assert alive == "alive"
    assert int(read) > 0  # it read between stalls
    assert int(gaps) > 0  # and what passed hwm meanwhile was counted
