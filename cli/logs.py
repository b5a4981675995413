"""structlog set-up for the command-line tools: logs on stderr, console or JSON."""

from __future__ import annotations

import logging
import sys
from typing import Final

import structlog

from radio import LOGGER_NAME

LOG_FORMATS: Final = ("console", "json")


def configure_logging(log_format: str = "console", verbosity: int = 0) -> None:
    """Render radio's events (the library's and the tools' own) on stderr; stdout stays for data.

    The library hands its events to the standard library's ``radio`` logger (see
    `radio.logs`); this puts one handler there that renders them with structlog,
    as console lines or JSON, and routes the tools' own structlog loggers the same
    way. *verbosity* -1 shows warnings and errors, 0 adds info, 1 adds debug.
    """
    level = {-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    renderer: structlog.typing.Processor
    if log_format == "json":
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    radio_logger = logging.getLogger(LOGGER_NAME)
    radio_logger.handlers = [handler]
    radio_logger.setLevel(level)
    radio_logger.propagate = False
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.stdlib.BoundLogger,
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
