"""The service thread backs off while the application reads the socket, and comes back."""

from __future__ import annotations

import itertools
import threading
import time

from helpers import tuned, wait_until

from radio.service import (
    IDLE_INTERVAL_S,
    SERVICE_INTERVAL_S,
    ServiceThread,
    next_wait,
)

EPSILON_S = 0.002  # timer slack: an Event.wait never returns early by more


def test_next_wait_doubles_while_serviced_and_resets_on_work() -> None:
    assert next_wait(None, 0.02, 0.02, 0.16) == 0.04
    assert next_wait(None, 0.08, 0.02, 0.16) == 0.16
    assert next_wait(None, 0.16, 0.02, 0.16) == 0.16  # never past the idle interval
    assert next_wait(False, 0.16, 0.02, 0.16) == 0.02  # a turn with nothing waiting
    assert next_wait(True, 0.16, 0.02, 0.16) == 0.02  # a turn with more waiting
    assert next_wait(None, 0.02, 0.02, 0.02) == 0.02  # no idle interval: no backoff


def _turns(results: list[bool | None], interval: float, idle: float | None) -> list[float]:
    """Run a real ServiceThread whose work returns *results* in turn; the times of its turns."""
    lock = threading.Lock()
    times: list[float] = []
    done = threading.Event()

    def work() -> bool | None:
        times.append(time.monotonic())
        if len(times) == len(results):
            done.set()
        return results[min(len(times), len(results)) - 1]

    thread = ServiceThread(lock, work, "test-service", interval, idle_interval=idle)
    start = time.monotonic()
    thread.start()
    try:
        assert done.wait(10.0), f"only {len(times)} turns of {len(results)}"
    finally:
        thread.stop()
    return [start, *times[: len(results)]]


def test_the_thread_waits_twice_as_long_after_each_turn_the_application_serviced() -> None:
    results: list[bool | None] = [None, None, None, None, False, None]
    times = _turns(results, 0.01, 0.04)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # The first turn after the interval, then 0.02, 0.04 and 0.04 (the idle interval) after
    # the serviced turns, back to 0.01 after the one with work, and 0.02 again.
    for gap, least in zip(gaps, [0.01, 0.02, 0.04, 0.04, 0.04, 0.01], strict=True):
        assert gap >= least - EPSILON_S, (gaps, least)


class _Waits(threading.Event):
    """The service thread's stop event, noting every wait it chose between two turns."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(-1.0 if timeout is None else timeout)
        return super().wait(timeout)


def test_a_reading_application_keeps_the_thread_backed_off_and_a_stop_brings_it_back() -> None:
    """A subscriber read in a loop: its service thread finds the socket serviced (or the
    lock taken) and backs off to the idle interval; once the application stops reading,
    the thread is back at its interval and reads for it."""
    with tuned("s", channel="svc") as (pub, sub):
        waits = _Waits()
        sub._service._stopped = waits
        stop = threading.Event()

        def send() -> None:
            while not stop.wait(0.002):
                pub.send("s", b"tick")

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        try:
            deadline = time.monotonic() + 20.0
            while waits.waits[-2:] != [IDLE_INTERVAL_S] * 2 and time.monotonic() < deadline:
                sub.recv(0.5)
            assert waits.waits[-2:] == [IDLE_INTERVAL_S] * 2, waits.waits
            assert SERVICE_INTERVAL_S * 2 in waits.waits  # it doubled on its way there
            # The application stops reading: the thread reads for it again, and what it
            # reads waits in the subscriber's queue.
            heard, turns = sub.stats.received, len(waits.waits)
            wait_until(lambda: sub.stats.received > heard + 10, what="the thread reading")
            assert SERVICE_INTERVAL_S in waits.waits[turns:]
        finally:
            stop.set()
            sender.join()
