"""A small background thread that services a socket under its owner's lock."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Final

import zmq

from radio.logs import get_logger
from radio.security import user_id

log = get_logger()

SERVICE_INTERVAL_S: Final[float] = 0.02
"""How often the thread touches the socket when the application does not."""

MAX_EVENTS_PER_PASS: Final[int] = 1024
"""Most subscription events a service pass handles while holding the lock."""

MAX_EVENTS_PASS_S: Final[float] = 0.005
"""Longest a pass keeps reading subscription events while holding the lock (a flood:
libzmq may spend tens of milliseconds in one call adding a burst of subscriptions to
its trie; ``python -m tools.soak.xpub_stall``)."""

IDLE_INTERVAL_S: Final[float] = 0.16
"""The longest a subscriber's thread waits between turns while its application reads the
socket itself: each turn it skips doubles the wait from `SERVICE_INTERVAL_S`, up to
this, and a turn with work brings it back. With 50 subscriber processes on two cores,
waking every 20 ms to find the socket read cost 36-47 ns of CPU per message delivered;
10 ns with the backoff (/proc schedstat of the thread)."""

BUSY_PAUSE_S: Final[float] = 0.002
"""How long the thread lets go of the lock between two passes of a backlog (say a
flood of subscription events), or before it tries again for a lock that was taken
while work waits: an application thread waiting for the lock gets it in between,
and a sending thread is not made to hand over the GIL at every one of its sends
(``python -m tools.soak.xpub_stall``: 0.2 ms put radio's p99 send at 2x raw's)."""

_NOBLOCK: Final[int] = zmq.NOBLOCK


class ServiceThread:
    """Calls *work* under *lock*, then *own* and *after*, every *interval* seconds until `stop`.

    *work* is the servicing the owner also does itself from any thread (it calls
    it from its own methods); *own* is work that only this thread ever does (say,
    answering requests on a second socket, which must never cost a sender), run
    after *lock* is let go, as *after* is.

    libzmq attaches new connections, sends a SUB's subscriptions to them and hands
    XPUB subscription events over only when the socket's owner calls into it. This
    thread does that while the application is busy elsewhere. It skips a turn when
    the lock is taken: an application that holds it is calling into the socket
    itself. *release* lets the lock go after a turn (default its ``release``).
    When *work* returns True (it stopped at its bound with more waiting,
    say a flood of subscription events) the next turn comes after *busy_pause*
    seconds without the lock, and comes that soon again while the lock is taken:
    work is done in bounded slices, never in one long hold, and an application
    thread waiting for the lock gets it between two. When *work* returns None
    (nothing to do: the application serviced the socket itself), or the lock
    was taken, the next turn comes twice as late, up to *idle_interval*
    (default: *interval*, no backoff); any other result brings the wait back to
    *interval*. An error in *work* is logged, not fatal.
    """

    def __init__(
        self,
        lock: threading.Lock,
        work: Callable[[], bool | None],
        name: str,
        interval: float = SERVICE_INTERVAL_S,
        after: Callable[[], None] | None = None,
        own: Callable[[], None] | None = None,
        busy_pause: float = 0.0,
        release: Callable[[], None] | None = None,
        idle_interval: float | None = None,
    ) -> None:
        self._lock = lock
        self._release = lock.release if release is None else release
        self._work = work
        self._own = own
        self._after = after
        self._interval = interval
        self._busy_pause = busy_pause
        self._idle_interval = interval if idle_interval is None else max(interval, idle_interval)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (call without holding the lock)."""
        self._stopped.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        busy: bool | None = False
        wait = self._interval
        while not self._stopped.wait(self._busy_pause if busy else wait):
            # Never wait for the lock: whoever holds it is calling into the socket, which
            # is the service this thread gives; waiting would only hand the lock back and
            # forth with a busy application. Work left over is tried for again soon.
            if self._lock.acquire(blocking=False):
                busy = False
                try:
                    if not self._stopped.is_set():
                        busy = self._work()
                        wait = next_wait(busy, wait, self._interval, self._idle_interval)
                except Exception:  # noqa: BLE001 - a peer's bad input must not end the thread
                    _log_failure("service_failed", self._thread.name)
                finally:
                    self._release()
            elif not busy:  # the application holds the lock: it is calling into the socket
                wait = next_wait(None, wait, self._interval, self._idle_interval)
            if self._own is not None and not self._stopped.is_set():
                try:
                    self._own()
                except Exception:  # noqa: BLE001 - a peer's bad input must not end the thread
                    _log_failure("service_failed", self._thread.name)
            if self._after is not None:  # outside the lock: it may call back into the owner
                try:
                    self._after()
                except Exception:  # noqa: BLE001 - an application callback must not end it
                    _log_failure("callback_failed", self._thread.name)


def next_wait(result: bool | None, wait: float, interval: float, idle_interval: float) -> float:
    """The wait before a service thread's next turn, after a turn whose work gave *result*.

    None (the application serviced the socket itself): twice *wait*, up to
    *idle_interval*; anything else: *interval*.
    """
    return interval if result is not None else min(2.0 * wait, idle_interval)


def _log_failure(event: str, thread: str) -> None:
    """Log the exception being handled; a failing log (closed stderr) must not kill us."""
    with contextlib.suppress(Exception):  # nothing better to do when logging itself fails
        log.exception(event, thread=thread)


def read_events(
    socket: zmq.Socket[bytes],
    out: deque[tuple[bytes, bytes]],
    *,
    curve: bool,
    limit: int = MAX_EVENTS_PER_PASS,
) -> bool:
    """Read up to *limit* XPUB subscription events into *out*, in order (the socket held).

    Each goes in with the key that authenticated its sender (``User-Id`` under
    CURVE, *curve*; else empty), for the owner's core to hear under its own lock
    (never across a socket call). Returns whether it stopped at a bound (*limit*,
    or `MAX_EVENTS_PASS_S`) with events maybe left.
    """
    deadline = time.monotonic() + MAX_EVENTS_PASS_S
    append = out.append
    for _ in range(limit):  # a flood of (un)subscriptions cannot hog the socket
        if time.monotonic() > deadline:
            return True  # the rest next pass, after the socket was let go
        try:
            if curve:  # presence is bound to the key that authenticated the event
                frame = socket.recv(_NOBLOCK, copy=False)
                append((frame.bytes, user_id(frame)))
            else:
                append((socket.recv(_NOBLOCK), b""))
        except zmq.Again:
            return False
    return True
