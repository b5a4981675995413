"""structlog set-up for the command-line tools: logs on stderr, console or JSON."""

from __future__ import annotations

import logging
import sys
from typing import Final

import structlog

LOG_FORMATS: Final = ("console", "json")


def configure_logging(log_format: str = "console", verbosity: int = 0) -> None:
    """Send radio's structlog events to stderr; stdout stays for data.

    *verbosity* -1 shows warnings and errors, 0 adds info, 1 adds debug.
    """
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=False,
    )
