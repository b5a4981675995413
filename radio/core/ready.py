"""Decoded messages not yet handed out: their order, the fence at a retune, their TTL."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final

from radio.core.tuner import Tuner
from radio.message import Loss, Message

CHUNK: Final[int] = 256
"""Most messages `recv_many` returns by default and iteration takes at a time."""

MAX_SHIFTS: Final[int] = 64
"""Rebases remembered (see `ReadyQueue.rebase`): a reader that took a message before
more of them than this went by (never seen: they follow beacons) judges it as is."""

_new_tuple = tuple.__new__


def _shifted(message: Message, shift: float) -> Message:
    """*message* with ``shift`` added to its ``sent_at``."""
    return _new_tuple(Message, (*message[:3], message[3] + shift, *message[4:]))


def _expired_at(message: Message, now: float) -> bool:
    """Whether *message* is past its TTL at *now* (ours plus the conversion: as sent_at reads)."""
    ttl = message[4]
    return ttl is not None and now > message[3] + ttl


class ReadyQueue:
    """A subscriber's decoded messages that the application has not had yet, in order.

    ``queue`` holds what the socket's reader decoded (the newest one only in
    conflate mode). ``taken`` holds messages that a reader took off it under the
    subscriber's lock, so that `Subscriber.recv` can pop them one by one without
    the lock (``deque.popleft`` is atomic); they come before those in ``queue``.
    `fence`, at a retune, raises ``generation`` first, so that a reader that pops
    a taken message meanwhile checks it again (`still_heard`) under the lock. A
    message that is not handed out is counted once by the tuner (`Ledger.retract`):
    fenced, or expired (its TTL is checked again as it is handed out, on our
    monotonic clock: ``monotonic() + conversion > sent_at + ttl``, see
    `Air.conversion`). Every method but the lock-free pop runs under the lock.

    When the tuner changes what turns send times into ``sent_at`` (a beacon's
    wall base, a new publisher instance), it calls `rebase`: the messages held
    here move with it, the generation goes up, and a reader holding a message
    taken before (a lock-free pop, an iterator's chunk) says which generation it
    took it at, so that it is judged (`still_heard`) or given back (`give_back`)
    with the shifts since. ``conversion`` is a copy of the tuner's, for the
    lock-free checks: set by `refresh` (after each read) and by `rebase` (after
    the generation); read it before checking the generation.
    """

    def __init__(
        self,
        tuner: Tuner,
        *,
        conflate: bool,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conflate = conflate
        self.queue: deque[Message] = deque(maxlen=1 if conflate else None)
        self.taken: deque[Message] = deque()
        self.generation = 0
        self._tuner = tuner
        self._monotonic = monotonic
        self.conversion = tuner.air.conversion
        self._shifts: deque[tuple[int, float]] = deque(maxlen=MAX_SHIFTS)  # (generation, shift)
        tuner.air.on_rebase = self.rebase

    def put(self, message: Message) -> None:
        """Queue one decoded message; in conflate mode it replaces (and counts) the one waiting."""
        queue = self.queue
        if self.conflate and queue:
            self._tuner.ledger.conflated(1)
        queue.append(message)

    def __bool__(self) -> bool:
        return bool(self.taken or self.queue)

    def __len__(self) -> int:
        return len(self.taken) + len(self.queue)

    def expired(self, message: Message, conversion: float | None = None) -> bool:
        """Whether *message* is older than its TTL now (see `Air.conversion`).

        Without the lock, pass ``conversion`` as read before the generation check.
        """
        if conversion is None:
            conversion = self._tuner.air.conversion
        return _expired_at(message, self._monotonic() + conversion)

    def refresh(self) -> None:
        """Copy the tuner's conversion for the lock-free checks (after each read)."""
        self.conversion = self._tuner.air.conversion

    def rebase(self, shift: float) -> None:
        """The tuner's send times moved by *shift* (see `Air.on_rebase`): so do ours.

        The generation goes up first, as at `fence`: a reader that pops a taken
        message from now on checks it again under the lock, with the shift.
        """
        back = self._swap_taken()
        self._shifts.append((self.generation, shift))
        queue = self.queue
        moved = [_shifted(message, shift) for message in (*back, *queue)]
        queue.clear()  # in place: the tuner may be appending to it
        queue.extend(moved)
        self.conversion = self._tuner.air.conversion

    def _since(self, generation: int) -> float:
        """The sum of the shifts after *generation*."""
        return sum(shift for at, shift in self._shifts if at > generation)

    def still_heard(self, message: Message, generation: int | None = None) -> bool:
        """Whether *message*, taken before a retune or a wait, may still be handed out.

        Counts it (fenced or expired) when it may not. *generation* is the one it
        was taken at (None: now).
        """
        if message.session not in self._tuner.sessions:
            self._tuner.ledger.retract(message, Loss.FENCED)
            return False
        shift = 0.0 if generation is None else self._since(generation)
        if self.expired(_shifted(message, shift) if shift else message):
            self._tuner.ledger.retract(message, Loss.EXPIRED)
            return False
        return True

    def pop(self) -> Message | None:
        """The next message, taken ones first, dropping (and counting) the expired ones.

        A reader of `Subscriber.recv` may pop a taken message without the lock
        meanwhile: an empty deque ends the loop whenever it is found so.
        """
        for queue in (self.taken, self.queue):
            while queue:  # no exception to make for an empty deque, the common case
                try:
                    message = queue.popleft()
                except IndexError:
                    break
                if self.expired(message):
                    self._tuner.ledger.retract(message, Loss.EXPIRED)
                    continue
                return message
        return None

    def pop_many(self, count: int) -> list[Message]:
        """Up to *count* messages in order, taken ones first, dropping the expired ones.

        When nothing is taken and the queue holds no more than *count* (a reader
        keeping up), the queue is taken whole: no lock-free reader pops from it
        (they pop ``taken``), and a list of it costs a fraction of a pop each.
        """
        now = self._monotonic() + self._tuner.air.conversion  # as sent_at reads
        if not self.taken and len(self.queue) <= count:
            whole = list(self.queue)
            self.queue.clear()
            return self._unexpired(whole, now)
        out: list[Message] = []
        for queue in (self.taken, self.queue):
            while queue and len(out) < count:
                try:  # a lock-free reader may take the last one first: see pop
                    message = queue.popleft()
                except IndexError:
                    break
                if _expired_at(message, now):
                    self._tuner.ledger.retract(message, Loss.EXPIRED)
                    continue
                out.append(message)
        return out

    def _unexpired(self, messages: list[Message], now: float) -> list[Message]:
        """*messages* less the ones expired at *now* (each retracted, counted), in order."""
        for message in messages:
            if _expired_at(message, now):
                break
        else:
            return messages  # the common case: none expired, the list as it is
        kept: list[Message] = []
        for message in messages:
            if _expired_at(message, now):
                self._tuner.ledger.retract(message, Loss.EXPIRED)
            else:
                kept.append(message)
        return kept

    def take_chunk(self) -> None:
        """Move the decoded messages to ``taken`` (not in conflate mode).

        Their TTL is checked as each is handed out, not now. With ``taken`` empty,
        the whole queue becomes ``taken`` and a fresh deque the queue (no message
        moves; a lock-free reader still holding the old, empty ``taken`` finds it
        empty); else up to `CHUNK` move over one by one.
        """
        if self.conflate:
            return
        queue, taken = self.queue, self.taken
        if not taken:
            self.taken, self.queue = queue, deque()
            return
        for _ in range(min(CHUNK, len(queue))):
            taken.append(queue.popleft())

    def fence(self) -> None:
        """Drop (counting them fenced) the messages of sessions no longer heard.

        The generation goes up first: a reader that pops a taken message from now
        on checks it again under the lock. The taken ones go back in front of the
        others (popped one by one: a reader may still pop from the old deque).
        """
        back = self._swap_taken()
        sessions = self._tuner.sessions
        queued = [*back, *self.queue]
        stale = [m for m in queued if m.session not in sessions]
        if stale or back:
            kept = (m for m in queued if m.session in sessions)
            self.queue = deque(kept, maxlen=self.queue.maxlen)
            for message in stale:
                self._tuner.ledger.retract(message, Loss.FENCED)

    def _swap_taken(self) -> list[Message]:
        """Raise the generation, swap ``taken`` for an empty deque; return what it held.

        The old deque is emptied from the right, one by one: a reader that still
        pops from its left meanwhile gets the oldest, so order holds either way.
        """
        self.generation += 1
        taken, self.taken = self.taken, deque()
        back: list[Message] = []
        while True:
            try:
                back.append(taken.pop())
            except IndexError:
                break
        back.reverse()
        return back

    def give_back(self, messages: list[Message], generation: int | None = None) -> None:
        """Put messages taken and not handed out back in front, fencing those not heard.

        *generation* is the one they were taken at (None: now): they move by the
        shifts since (`rebase`). In conflate mode a newer message waiting wins:
        the given-back one is counted conflated.
        """
        sessions = self._tuner.sessions
        shift = 0.0 if generation is None else self._since(generation)
        if shift:
            messages = [_shifted(message, shift) for message in messages]
        for message in reversed(messages):
            if message.session not in sessions:
                self._tuner.ledger.retract(message, Loss.FENCED)
            elif not self.conflate:
                self.taken.appendleft(message)
            elif self.queue:
                self._tuner.ledger.conflated(1)  # the newer one waiting stays
            else:
                self.queue.append(message)

    def clear(self) -> int:
        """Forget every message (the subscriber closes); return how many there were.

        The generation goes up first, as at a retune: a reader that pops a taken
        message from now on checks it again under the lock (and finds it closed).
        """
        unread = len(self._swap_taken()) + len(self.queue)
        self.queue.clear()
        return unread
