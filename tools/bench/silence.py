"""``for message in subscriber`` as the benchmark's ``recv(timeout_s)``: a silence ends the loop."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Final

CHECKS_PER_TIMEOUT: Final[int] = 4
"""How often the watchdog looks within one timeout: it closes at most a quarter of it late.

Each look takes the subscriber's lock and the interpreter from the reading thread:
with 50 subscriber processes on two cores, looking 20 times a timeout cost the
reader 12-14 ns per message (thread CPU, /proc schedstat)."""


class Silence:
    """Closes *subscriber* once it heard nothing new for the timeout its reader asked for.

    radio's iteration has no timeout (it ends when the subscriber closes), and
    the benchmark's loop needs one: to end a run whose last messages were
    dropped. A daemon thread reads the subscriber's own count of messages heard
    (``stats.received``, under its lock, 4 times a timeout) and closes it when
    the count has not moved for the timeout; the loop then ends, as a timeout
    would end it. It costs the reading thread nothing per message. Runs that
    drop nothing (hwm 0) end on their count, before any silence.
    """

    def __init__(self, subscriber: Any, timeout_s: float) -> None:
        self._subscriber = subscriber
        self.timeout_s = timeout_s
        """Set it when the reader's timeout changes (the first message waits longer)."""
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="bench-silence", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop watching (the loop is over); the thread is gone when this returns."""
        self._stopped.set()
        self._thread.join()

    def _watch(self) -> None:
        heard, since = -1, time.monotonic()
        while not self._stopped.wait(self.timeout_s / CHECKS_PER_TIMEOUT):
            try:
                now_heard = self._subscriber.stats.received
            except Exception:  # noqa: BLE001 - closed under it: nothing left to watch
                return
            now = time.monotonic()
            if now_heard != heard:
                heard, since = now_heard, now
            elif now - since >= self.timeout_s:
                self._subscriber.close()
                return


Recv = Callable[[float], bytes | None]
"""The benchmark's ``recv(timeout_s)``: the next payload, or None after the timeout."""


def iterating(subscriber: Any, first_timeout_s: float) -> tuple[Recv, Silence]:
    """``recv(timeout_s)`` over ``for message in subscriber``, and the `Silence` that ends it.

    ``recv`` returns the next message's payload, or None once the subscriber
    was closed for silence. Stop the watchdog when the loop is over.
    """
    messages = iter(subscriber)
    silence = Silence(subscriber, first_timeout_s)

    def recv(timeout_s: float) -> bytes | None:
        if timeout_s != silence.timeout_s:
            silence.timeout_s = timeout_s
        message = next(messages, None)
        return None if message is None else message.payload

    return recv, silence
