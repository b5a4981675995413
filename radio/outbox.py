"""The publisher's socket between threads: a sender never waits for another thread's call."""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Final

import zmq

Item = bytes | tuple[bytes, bytes]
"""What goes out: one frame, or a two-part message (its head, then its payload)."""

_NOBLOCK: Final[int] = zmq.NOBLOCK
_NOBLOCK_MORE: Final[int] = zmq.NOBLOCK | zmq.SNDMORE


class Outbox:
    """One socket's outgoing frames, sent by whichever thread holds the socket.

    Two locks: *state*, the owner's (its core, and this outbox's queue), and
    *wire*, the socket's: a thread calls into the socket only while it holds
    *wire*. A thread that finds *wire* taken (the service thread inside a libzmq
    call, which a flood of subscriptions can make last tens of milliseconds)
    leaves its frames here instead of waiting, and the holder sends them, in the
    order they were left and before any of its own, before it lets go. So a
    sender never waits for another thread's socket call, no frame overtakes one
    numbered before it, and none is left behind.

    A thread takes *wire* before *state* when it takes both; a thread holding
    *state* only ever tries for *wire*, never waits for it, so the two cannot
    deadlock. Data frames left here beyond *limit* are dropped and counted, as
    the socket itself drops beyond its high-water mark (the subscribers count
    the gap); control frames are always kept.
    """

    def __init__(
        self,
        state: threading.Lock,
        wire: threading.Lock,
        send: Callable[..., object],
        limit: int,
    ) -> None:
        self.state = state
        self.wire = wire
        self._send = send
        self.pending: deque[Item] = deque()
        self._limit = limit or sys.maxsize
        self.dropped = 0
        """Data frames dropped because too many waited here."""

    def emit(self, items: Iterable[Item]) -> None:
        """Send what waits here, then *items* (*state* and *wire* held)."""
        if self.pending:
            self.send_all(self.take())
        self.send_all(items)

    def put(
        self,
        items: Iterable[Item],
        *,
        data: bool = False,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Send *items* now if the socket is free, else leave them to its holder (*state* held).

        *data*: they are messages, which may be dropped past the limit. *then* runs
        after them with the socket held, if it was free (say, a service pass).
        """
        if self.wire.acquire(blocking=False):
            try:
                self.emit(items)
                if then is not None:
                    then()
            finally:
                self.wire.release()  # under *state*: nothing can be left here meanwhile
            return
        pending = self.pending
        for item in items:
            if data and len(pending) >= self._limit:
                self.dropped += 1
            else:
                pending.append(item)

    def take(self) -> list[Item]:
        """Everything waiting here, in order, to be sent by the caller (*state* held)."""
        items = list(self.pending)
        self.pending.clear()
        return items

    def send_all(self, items: Iterable[Item]) -> None:
        """Send *items* in order, never blocking (*wire* held)."""
        send = self._send
        for item in items:
            if item.__class__ is bytes:
                send(item, _NOBLOCK)
            else:
                head, payload = item
                send(head, _NOBLOCK_MORE)
                send(payload, _NOBLOCK, False)  # handed to libzmq, not copied

    def let_go(self) -> None:
        """Release *wire* (held, *state* not), sending first what was left meanwhile."""
        while True:
            with self.state:
                if not self.pending:
                    self.wire.release()
                    return
                items = self.take()
            self.send_all(items)

    @contextmanager
    def both(self) -> Iterator[None]:
        """Hold *wire*, then *state*; on the way out send what waits and let both go."""
        with self.wire, self.state:
            try:
                yield
            finally:
                if self.pending:
                    self.send_all(self.take())
        # A sender may have left frames between *state* and *wire* going: send them,
        # unless another thread has the socket now (it sends them before it lets go).
        with self.state:
            if self.pending:
                self.put(())
