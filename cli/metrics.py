"""The --metrics option of radio-pub, radio-sub and radio-relay: Prometheus text over HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Final, TypeVar

import click

from radio import (
    MetricsServer,
    Publisher,
    Relay,
    Subscriber,
    serve_metrics,
    validate_metrics_address,
)

from .errors import USAGE_ERRORS

F = TypeVar("F", bound=Callable[..., Any])

INSTALL_HINT: Final[str] = "pip install 'radio-zmq[metrics]'"


def _check_metrics(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A valid HOST:PORT, with prometheus_client installed; else a usage error saying so."""
    if value is None:
        return None
    try:
        validate_metrics_address(value)
    except USAGE_ERRORS as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        raise click.BadParameter(
            f"prometheus_client is not installed: {INSTALL_HINT}", ctx=ctx, param=param
        ) from None
    return value


def metrics_option() -> Callable[[F], F]:
    """Add ``--metrics HOST:PORT``, handed to the command as ``metrics: str | None``."""
    return click.option(
        "--metrics",
        callback=_check_metrics,
        metavar="HOST:PORT",
        help="Serve Prometheus metrics at http://HOST:PORT/metrics (port 0: any free one, "
        f"logged as metrics_serving). Needs: {INSTALL_HINT}.",
    )


def serving(
    address: str | None, source: Publisher | Relay | Subscriber
) -> contextlib.AbstractContextManager[MetricsServer | None]:
    """Serve *source*'s metrics at *address* for the ``with`` block (nothing when None)."""
    if address is None:
        return contextlib.nullcontext()
    return serve_metrics(address, source)
