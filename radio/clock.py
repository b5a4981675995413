"""The offset between a subscriber's clock and its publisher's, estimated from arrivals."""

from __future__ import annotations

from collections import deque
from typing import Final

WINDOW_S: Final[float] = 60.0
"""How long an observed minimum keeps the estimate down (by the subscriber's clock)."""

BUCKET_S: Final[float] = 5.0
"""The window is kept as the minima of buckets this long."""

_INF: Final[float] = float("inf")


class ClockOffset:
    """Estimates ``our clock - the publisher's clock`` from (send time, arrival time) pairs.

    Each frame's arrival time minus its send time is the offset plus the frame's
    one-way delay; the smallest over `WINDOW_S` is the offset plus the delay
    floor. So the publisher's clock reads about ``now - value`` here, and a
    message's age on the publisher's clock is ``now - value - sent_at``, right to
    within the one-way delay whatever the two clocks say. The estimate goes down
    at once and up only when the minimum leaves the window: frames read late
    from a backlog (large delays) never make old messages look young, and a
    publisher clock stepped back shows only after a window, erring towards
    expiring. ``value`` is None until the first observation.
    """

    def __init__(self) -> None:
        self.value: float | None = None
        self.bucket_min = _INF  # the current bucket's minimum: observe() when below it
        self._bucket_start = -_INF
        self._buckets: deque[tuple[float, float]] = deque()  # (start, minimum), oldest first

    def observe(self, sent_at: float, arrived: float) -> float:
        """Take one frame's send time (publisher's clock) and arrival (ours); return value."""
        sample = arrived - sent_at
        if arrived - self._bucket_start >= BUCKET_S:
            if self.bucket_min < _INF:
                self._buckets.append((self._bucket_start, self.bucket_min))
            self._bucket_start, self.bucket_min = arrived, _INF
            while self._buckets and arrived - self._buckets[0][0] > WINDOW_S:
                self._buckets.popleft()
            self.value = min((low for _, low in self._buckets), default=None)
        if sample < self.bucket_min:
            self.bucket_min = sample
        if self.value is None or sample < self.value:
            self.value = sample
        return self.value

    def reset(self) -> None:
        """Forget every observation (another publisher, another clock)."""
        self.__init__()  # type: ignore[misc]
