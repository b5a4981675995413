"""Simulated time: an event queue keyed by true time, run in order (ties by insertion)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

Action = Callable[[], None]


class Timeline:
    """The simulation's one true clock and its queue of things to do.

    Nothing here reads the machine's clock: `now` moves only when `run_until`
    takes the next event, so a run is the same every time for the same seed.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self.steps = 0
        self._queue: list[tuple[float, int, Action]] = []
        self._order = itertools.count()

    def at(self, when: float, action: Action) -> None:
        """Run *action* at true time *when* (now, if that has passed)."""
        heapq.heappush(self._queue, (max(when, self.now), next(self._order), action))

    def after(self, delay: float, action: Action) -> None:
        """Run *action* *delay* seconds of true time from now."""
        self.at(self.now + delay, action)

    def run_until(self, end: float, after_step: Action | None = None) -> None:
        """Run every event due up to *end* in order, calling *after_step* after each."""
        queue = self._queue
        while queue and queue[0][0] <= end:
            when, _, action = heapq.heappop(queue)
            self.now = when
            action()
            self.steps += 1
            if after_step is not None:
                after_step()
        self.now = max(self.now, end)
