"""radio's loggers: structlog events handed to the standard library's logging, logger ``radio``.

A library must never write to its user's stdout, and structlog left unconfigured
prints every event there. So radio does not use structlog's global
configuration: each logger here wraps ``logging.getLogger("radio")`` with a fixed
chain that drops what the level filters out and hands the event to `logging`,
its fields as the record's ``extra``. A program that configures nothing sees only
warnings, on stderr (logging's last resort); one that configures logging, or
structlog with its stdlib integration (``ProcessorFormatter`` with
``ExtraAdder``), gets radio's structured events. radio never configures either.
"""

from __future__ import annotations

import logging
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

LOGGER_NAME: Final[str] = "radio"
"""The standard library logger every radio event goes to."""

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
