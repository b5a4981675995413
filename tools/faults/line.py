"""One direction of a simulated cable: a delay, a bandwidth, a random drop share, a cut switch.

Pure: the clock and the random source are passed in, so tests drive it by hand.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from typing import Final

QUEUE_LIMIT_BYTES: Final[int] = 64 * 1024
"""What a narrow line holds waiting for its bandwidth; more is dropped on entry (drop-tail),
as by a router's buffer."""


@dataclass(frozen=True)
class Conditions:
    """What a link does to every frame: delay, bandwidth, drop share, and whether it is cut.

    ``bandwidth`` is in bytes a second (None: as fast as frames come).
    """

    delay_s: float = 0.0
    loss: float = 0.0
    cut: bool = False
    bandwidth: float | None = None

    def __post_init__(self) -> None:
        if self.delay_s < 0:
            raise ValueError(f"invalid delay {self.delay_s!r}: must be >= 0 seconds")
        if not 0.0 <= self.loss <= 1.0:
            raise ValueError(f"invalid loss {self.loss!r}: must be a share from 0 to 1")
        if self.bandwidth is not None and not self.bandwidth > 0:
            raise ValueError(f"invalid bandwidth {self.bandwidth!r}: must be > 0 bytes a second")


@dataclass
class LineCounts:
    """Frames a line has seen, by fate."""

    passed: int = 0
    dropped: int = 0
    cut: int = 0
    overflowed: int = 0


@dataclass
class Line:
    """Frames in flight in one direction, each due when sent out plus ``delay_s``.

    A frame is sent out at once, or with a ``bandwidth`` once the frames before it
    are out and it has taken its own length's time; what waits for that is held
    up to `QUEUE_LIMIT_BYTES`, beyond which frames are dropped on entry. Due times
    never decrease while the conditions hold, and a frame is never let out before
    the frames ahead of it, so the queue is a FIFO. A cut drops what enters and
    also what is still in flight when it is due (a pulled cable loses the frames
    on the wire); a random share ``loss`` is dropped on entry.
    """

    conditions: Conditions
    rng: random.Random
    counts: LineCounts = field(default_factory=LineCounts)
    _queue: deque[tuple[float, bytes]] = field(default_factory=deque)
    _sent_out: float = 0.0  # when the last frame taken is out on the wire (with a bandwidth)
    _waiting: deque[tuple[float, int]] = field(default_factory=deque)  # (out at, bytes)
    _waiting_bytes: int = 0

    def push(self, frame: bytes, now: float) -> bool:
        """Take *frame* at time *now*; return False when it is dropped."""
        conditions = self.conditions
        if conditions.cut:
            self.counts.cut += 1
            return False
        if conditions.loss and self.rng.random() < conditions.loss:
            self.counts.dropped += 1
            return False
        out = now
        if conditions.bandwidth is not None:
            waiting = self._waiting
            while waiting and waiting[0][0] <= now:
                self._waiting_bytes -= waiting.popleft()[1]
            if self._waiting_bytes + len(frame) > QUEUE_LIMIT_BYTES:
                self.counts.overflowed += 1
                return False
            out = max(now, self._sent_out) + len(frame) / conditions.bandwidth
            self._sent_out = out
            waiting.append((out, len(frame)))
            self._waiting_bytes += len(frame)
        self._queue.append((out + conditions.delay_s, frame))
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
