"""Rate-limited logging for events that a peer can make happen at any rate."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Final

LOG_EVERY_S: Final[float] = 1.0
"""At most one log line per event name in this many seconds."""


class RateLimitedLog:
    """Logs an event at most once per interval and counts the ones it held back."""

    def __init__(
        self,
        logger: Any,
        interval: float = LOG_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._next: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, event: str, **fields: Any) -> bool:
        """Log *event* at warning level unless one was logged less than an interval ago.

        Returns whether it was logged; a logged line carries ``suppressed``, the
        number of the same events held back since the previous line.
        """
        return self._log(self._logger.warning, event, fields)

    def info(self, event: str, **fields: Any) -> bool:
        """As `warning`, at info level (events a peer can cause by the thousand)."""
        return self._log(self._logger.info, event, fields)

    def _log(self, method: Any, event: str, fields: dict[str, Any]) -> bool:
        now = self._clock()
        if now < self._next.get(event, 0.0):
            self._held[event] = self._held.get(event, 0) + 1
            return False
        self._next[event] = now + self._interval
        method(event, suppressed=self._held.pop(event, 0), **fields)
        return True
