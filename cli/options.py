"""Options both radio-pub and radio-sub take, validated by radio's own rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

import click

from radio import (
    DEFAULT_HWM,
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_TIMEOUT_S,
    validate_count,
    validate_endpoint,
    validate_name,
    validate_seconds,
)

from .errors import USAGE_ERRORS
from .logs import LOG_FORMATS

DEFAULT_ENDPOINT: Final[str] = "tcp://127.0.0.1:5556"
"""Where radio-pub binds and radio-sub connects unless told otherwise."""

F = TypeVar("F", bound=Callable[..., Any])


def _checked(check: Callable[[Any], Any]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """Turn one of radio's validators into a click callback (None passes through).

    Options are checked while click parses, before the command's error boundary
    runs: a rejected value becomes click's BadParameter (a usage error naming the
    option), for the same errors that the boundary maps to `ExitStatus.USAGE`.
    """

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        try:
            return check(value)
        except USAGE_ERRORS as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from None

    return callback


check_endpoint = _checked(validate_endpoint)
check_channel = _checked(lambda value: validate_name(value, "channel"))
check_client = _checked(lambda value: validate_name(value, "client"))
check_session = _checked(lambda value: validate_name(value, "session"))
check_sessions = _checked(lambda values: tuple(validate_name(v, "session") for v in values))
check_hwm = _checked(lambda value: validate_count(value, "hwm"))
check_count = _checked(lambda value: validate_count(value, "count"))


def check_seconds(
    what: str, unit: str = "seconds"
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback accepting a number > 0 of *unit*, naming *what* when it is not."""
    return _checked(lambda value: validate_seconds(value, what, unit=unit))


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    """One decorator that adds *options* in the order given."""

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def socket_options() -> Callable[[F], F]:
    """Add --hwm, --heartbeat and --heartbeat-timeout."""
    return _apply(
        [
            click.option(
                "--hwm",
                type=int,
                default=DEFAULT_HWM,
                show_default=True,
                callback=check_hwm,
                metavar="N",
                help="High-water mark in messages per peer; 0 means no limit.",
            ),
            click.option(
                "--heartbeat",
                type=float,
                default=HEARTBEAT_INTERVAL_S,
                show_default=True,
                callback=check_seconds("heartbeat interval"),
                metavar="SECONDS",
                help="Interval of ZMTP heartbeats, which detect dead and frozen peers.",
            ),
            click.option(
                "--heartbeat-timeout",
                type=float,
                default=HEARTBEAT_TIMEOUT_S,
                show_default=True,
                callback=check_seconds("heartbeat timeout"),
                metavar="SECONDS",
                help="Silence after which a peer is declared gone.",
            ),
        ]
    )


def log_options() -> Callable[[F], F]:
    """Add --log-format, -q/--quiet and -v/--verbose."""
    return _apply(
        [
            click.option(
                "--log-format",
                type=click.Choice(LOG_FORMATS),
                default="console",
                show_default=True,
                help="How logs on stderr are written.",
            ),
            click.option("-q", "--quiet", is_flag=True, help="Log only warnings and errors."),
            click.option("-v", "--verbose", is_flag=True, help="Log debug events too."),
        ]
    )


def common_options(*, bind_default: bool) -> Callable[[F], F]:
    """Add the endpoint, channel, socket and logging options of radio-pub and radio-sub."""
    return _apply(
        [
            click.option(
                "-e",
                "--endpoint",
                default=DEFAULT_ENDPOINT,
                show_default=True,
                envvar="RADIO_ENDPOINT",
                show_envvar=True,
                callback=check_endpoint,
                help="ZeroMQ endpoint, e.g. tcp://127.0.0.1:5556 or ipc:///tmp/radio.sock.",
            ),
            click.option(
                "--bind/--connect",
                default=bind_default,
                show_default=True,
                help="Bind the endpoint, or connect to it.",
            ),
            click.option(
                "-c",
                "--channel",
                default="radio",
                show_default=True,
                envvar="RADIO_CHANNEL",
                show_envvar=True,
                callback=check_channel,
                help="Channel name: 1-128 of letters, digits, '-', '_', '.', ':'.",
            ),
            socket_options(),
            log_options(),
        ]
    )


def verbosity(quiet: bool, verbose: bool) -> int:
    """Map -q/-v to a verbosity level: -1, 0 or 1."""
    return -1 if quiet else (1 if verbose else 0)
