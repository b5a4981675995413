"""The publisher's socket between threads: a sender never waits for another thread's call."""

from __future__ import annotations

import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Final

import zmq

from radio.hot import MODULE as HOT

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
    numbered before it, and none is left behind for longer than the next send
    or service pass.

    A thread takes *wire* before *state* when it takes both; a thread holding
    *state* only ever tries for *wire*, never waits for it, so the two cannot
    deadlock. *wire* is tried for and let go in C when it is radio._hot's lock,
    so that Ctrl-C between the two cannot leave it taken. Data frames left here
    beyond *limit* (0: no limit) are dropped and counted, as the socket itself
    drops beyond its high-water mark (the subscribers count the gap); control
    frames are always kept. *send* sends a frame as pyzmq's ``send`` does (frame,
    flags, copy); *send_frame* (default *send*) a frame copied, never waiting,
    and faster (radio._hot's, which keeps the interpreter: see `Socket._send`).
    """

    def __init__(
        self,
        state: threading.Lock,
        wire: threading.Lock,
        send: Callable[..., object],
        limit: int,
        send_frame: Callable[[bytes, int], object] | None = None,
    ) -> None:
        self.state = state
        self.wire = wire
        self._send = send
        self._send_frame = send if send_frame is None else send_frame
        self.pending: deque[Item] = deque()
        self._limit = limit or sys.maxsize
        self.dropped = 0
        """Data frames dropped because too many waited here."""
        self._attempt: Callable[[Sequence[Item], Callable[[], object] | None], bool] = (
            partial(HOT.put_now, wire, self)
            if HOT is not None and type(wire) is HOT.Lock
            else self._put_now
        )

    def emit(self, items: Sequence[Item]) -> None:
        """Send what waits here, then *items* (*wire* held, and *state*)."""
        if self.pending:
            self.send_all(self.take())
        self.send_all(items)

    def put(
        self,
        items: Sequence[Item],
        *,
        data: bool = False,
        then: Callable[[], object] | None = None,
    ) -> None:
        """Send *items* now if the socket is free, else leave them to its holder (*state* held).

        *data*: they are messages, which may be dropped past the limit. *then* runs
        after them with the socket held, if it was free (say, a service pass).
        """
        if self._attempt(items, then):
            return
        pending = self.pending
        for item in items:
            if data and len(pending) >= self._limit:
                self.dropped += 1
            else:
                pending.append(item)

    def _put_now(self, items: Sequence[Item], then: Callable[[], object] | None) -> bool:
        """`put`'s attempt in Python: send if *wire* is free (pure builds: see the class)."""
        if not self.wire.acquire(blocking=False):
            return False
        try:
            if self.pending:
                self.send_all(self.take())
            self.send_all(items)
            if then is not None:
                then()
        finally:
            self.wire.release()  # under *state*: nothing can be left here meanwhile
        return True

    def take(self) -> list[Item]:
        """Everything waiting here, in order, for the caller to send (*wire* held).

        Only a thread holding *wire* takes; others only ever append, meanwhile too
        (each `popleft` is atomic: nothing appended during the take is lost).
        """
        pending = self.pending
        return [pending.popleft() for _ in range(len(pending))]

    def send_all(self, items: Sequence[Item]) -> None:
        """Send *items* in order, never blocking (*wire* held).

        If a send raises, the items not sent go back to the front of the queue.
        """
        send, send_frame = self._send, self._send_frame
        sent = 0
        try:
            for item in items:
                if isinstance(item, bytes):
                    send_frame(item, _NOBLOCK)
                else:
                    head, payload = item
                    send_frame(head, _NOBLOCK_MORE)
                    send(payload, _NOBLOCK, False)  # handed to libzmq, not copied
                sent += 1
        except BaseException:
            self.pending.extendleft(reversed(items[sent:]))
            raise

    def let_go(self) -> None:
        """Release *wire* (held, *state* not), then send what a sender left meanwhile.

        It never waits for *state* while it holds *wire*: a sender looping on
        `send` takes *state* again and again, and would keep the socket from
        everyone while this thread waited.
        """
        self.wire.release()
        self.recheck()

    def recheck(self) -> None:
        """After letting *wire* go without *state*: send what a sender left meanwhile.

        Unless another thread has the socket now (it sends them before it lets go).
        """
        with self.state:
            if self.pending:
                self.put(())
