"""structlog set-up for the command-line tools: logs on stderr, console or JSON."""

from __future__ import annotations

import logging
import sys
from typing import Final, TextIO

import structlog

from radio import LOGGER_NAME

LOG_FORMATS: Final = ("console", "json")


class LiveLineHandler(logging.StreamHandler[TextIO]):
    r"""Writes log lines on stderr, and a live status line that no log line runs into.

    On a terminal the status line is rewritten in place (``\r``) and left without
    a newline; before the next log line, and at `end_live`, it is ended with one.
    Log lines and the status line take the handler's lock, so threads never interleave.
    """

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._live_open = False

    def write_live(self, text: str) -> None:
        """Show *text* as the live line: in place on a terminal, else as a line of its own."""
        self.acquire()
        try:
            if self.stream.isatty():
                self.stream.write(f"\r{text}\x1b[K")
                self._live_open = True
            else:
                self.stream.write(f"{text}\n")
            self.stream.flush()
        finally:
            self.release()

    def end_live(self) -> None:
        """End the live line with a newline, if one is showing (at exit)."""
        self.acquire()
        try:
            self._end_live()
        finally:
            self.release()

    def _end_live(self) -> None:
        if self._live_open:
            self.stream.write("\n")
            self.stream.flush()
            self._live_open = False

    def emit(self, record: logging.LogRecord) -> None:
        """Write *record*, first ending the live line (`handle` holds the lock)."""
        self._end_live()
        super().emit(record)


def configure_logging(log_format: str = "console", verbosity: int = 0) -> LiveLineHandler:
    """Render radio's events (the library's and the tools' own) on stderr; stdout stays for data.

    The library hands its events to the standard library's ``radio`` logger (see
    `radio.logs`); this puts one handler there that renders them with structlog,
    as console lines or JSON, and routes the tools' own structlog loggers the same
    way. *verbosity* -1 shows warnings and errors, 0 adds info, 1 adds debug.
    Returns the handler, which also draws radio-sub's --stats line.
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
    handler = LiveLineHandler(sys.stderr)
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
    return handler
