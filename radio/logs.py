"""radio's loggers: structlog events handed to the standard library's logging, logger ``radio``.

A library must never write to its user's stdout or stderr, and structlog left
unconfigured prints every event on stdout. So radio does not use structlog's
global configuration: each logger here wraps ``logging.getLogger("radio")`` with
a fixed chain that drops what the level filters out and hands the event to
`logging`, its fields as the record's ``extra``; the ``radio`` logger's only
handler is a `logging.NullHandler`, so logging's last resort (warnings on stderr)
never fires. A program that configures nothing sees nothing; one that configures
logging (``logging.basicConfig()``), or structlog with its stdlib integration
(``ProcessorFormatter`` with ``ExtraAdder``), gets radio's structured events.
radio never configures either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, MutableMapping
from typing import Any, Final

import structlog

LOGGER_NAME: Final[str] = "radio"
"""The standard library logger every radio event goes to."""

logging.getLogger(LOGGER_NAME).addHandler(logging.NullHandler())

RECORD_ATTRIBUTES: Final = frozenset([*vars(logging.makeLogRecord({})), "message", "asctime"])


def _keep_clear_of_log_records(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Rename fields a LogRecord already has (``thread``, ``name``...): logging refuses them."""
    for key in [key for key in event if key in RECORD_ATTRIBUTES and key != "event"]:
        event[f"{key}_"] = event.pop(key)
    return event


def get_logger(name: str = LOGGER_NAME) -> Any:
    """A structlog logger whose events go to the standard library logger *name*."""
    return structlog.wrap_logger(
        logging.getLogger(name),
        processors=[
            structlog.stdlib.filter_by_level,
            _keep_clear_of_log_records,
            structlog.stdlib.render_to_log_kwargs,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


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
