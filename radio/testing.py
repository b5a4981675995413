"""Helpers for tests of programs that use radio: capture radio's log events."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from radio.logs import LOGGER_NAME, RECORD_ATTRIBUTES


class _Capture(logging.Handler):
    def __init__(self, into: list[dict[str, Any]]) -> None:
        super().__init__(logging.DEBUG)
        self._into = into

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in vars(record).items() if k not in RECORD_ATTRIBUTES}
        self._into.append(
            {"event": record.getMessage(), "log_level": record.levelname.lower(), **fields}
        )


@contextmanager
def capture_logs(level: int = logging.DEBUG) -> Iterator[list[dict[str, Any]]]:
    """Collect radio's events while the block runs: one dict each, like structlog's own.

    Each has ``event``, ``log_level`` and the event's fields. The ``radio``
    logger's level is lowered to *level* for the block.
    """
    events: list[dict[str, Any]] = []
    logger = logging.getLogger(LOGGER_NAME)
    handler = _Capture(events)
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield events
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
