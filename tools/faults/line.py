"""One direction of a simulated cable: a fixed delay, a random drop share and a cut switch.

Pure: the clock and the random source are passed in, so tests drive it by hand.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field


@dataclass
class Conditions:
    """What a link does to every frame: its one-way delay, drop share, and whether it is cut."""

    delay_s: float = 0.0
    loss: float = 0.0
    cut: bool = False

    def __post_init__(self) -> None:
        if self.delay_s < 0:
            raise ValueError(f"invalid delay {self.delay_s!r}: must be >= 0 seconds")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"invalid loss {self.loss!r}: must be a share from 0 to 1")


@dataclass
class LineCounts:
    """Frames a line has seen, by fate."""

    passed: int = 0
    dropped: int = 0
    cut: int = 0


@dataclass
class Line:
    """Frames in flight in one direction, each due ``delay_s`` after it entered.

    A fixed delay keeps the order, so the queue is a FIFO. A cut drops what
    enters and also what is still in flight when it is due (a pulled cable
    loses the frames on the wire); a random share ``loss`` is dropped on entry.
    """

    conditions: Conditions
    rng: random.Random
    counts: LineCounts = field(default_factory=LineCounts)
    _queue: deque[tuple[float, bytes]] = field(default_factory=deque)

    def push(self, frame: bytes, now: float) -> bool:
        """Take *frame* at time *now*; return False when it is dropped."""
        conditions = self.conditions
        if conditions.cut:
            self.counts.cut += 1
            return False
        if conditions.loss and self.rng.random() < conditions.loss:
            self.counts.dropped += 1
            return False
        self._queue.append((now + conditions.delay_s, frame))
        return True

    def due(self, now: float) -> list[bytes]:
        """Remove and return the frames due by *now*, in order (none while cut)."""
        queue = self._queue
        out: list[bytes] = []
        while queue and queue[0][0] <= now:
            out.append(queue.popleft()[1])
        if self.conditions.cut:
            self.counts.cut += len(out)
            return []
        self.counts.passed += len(out)
        return out

    def next_due(self) -> float | None:
        """When the oldest frame in flight is due (None when nothing is in flight)."""
        return self._queue[0][0] if self._queue else None

    def __len__(self) -> int:
        return len(self._queue)
