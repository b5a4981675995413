"""Options both radio-pub and radio-sub take, validated by radio's own rules."""

from __future__ import annotations

import functools
import ipaddress
import math
import socket
from collections.abc import Callable
from typing import Any, Final, TypeVar, cast

import click

from radio import (
    DEFAULT_HWM,
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_TIMEOUT_S,
    MAX_COUNT,
    MAX_MESSAGE_BYTES,
    MAX_SOCKET_SECONDS,
    RECONNECT_INTERVAL_S,
    CurveClient,
    InvalidSettingError,
    SocketOptions,
    validate_count,
    validate_endpoint,
    validate_name,
    validate_seconds,
)

from .errors import USAGE_ERRORS, RuntimeFailure, UsageError
from .logs import LOG_FORMATS

DEFAULT_ENDPOINT: Final[str] = "tcp://127.0.0.1:5556"
"""Where radio-pub binds and radio-sub connects unless told otherwise."""

MAX_OPTION_SECONDS: Final[float] = MAX_SOCKET_SECONDS
"""Longest time any option takes (about 23 days): a socket option's milliseconds fit a C int."""

MIN_TICK_S: Final[float] = 0.001
"""Shortest interval of a periodic option (heartbeats, beacons, reports): ZeroMQ counts in ms."""

MAX_RATE: Final[float] = 1e9
"""Highest --rate, in messages per second: beyond it, pacing means nothing."""

MIN_RATE: Final[float] = 1.0 / MAX_OPTION_SECONDS
"""Lowest --rate, in messages per second: one message per `MAX_OPTION_SECONDS`."""

MAX_OPTION_COUNT: Final[int] = MAX_COUNT
"""Largest count any option takes (a C int, as radio's own settings)."""

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


def validate_positive_count(value: object, what: str = "count") -> int:
    """Return *value* if it is a whole number from 1 to `MAX_OPTION_COUNT`, naming it if not."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_OPTION_COUNT:
        raise InvalidSettingError(
            f"invalid {what} {value!r}: expected a whole number from 1 to {MAX_OPTION_COUNT}"
        )
    return value


check_positive_count = _checked(validate_positive_count)


def validate_in_range(value: object, what: str, unit: str, minimum: float, maximum: float) -> float:
    """Return *value* as a float if finite, > 0 and from *minimum* to *maximum* of *unit*.

    The error names *what*, the value as given and the range: ``invalid rate 1e-10:
    expected messages per second from 5e-07 to 1e+09``.
    """
    try:
        number = validate_seconds(value, what, unit=unit, maximum=maximum)
    except InvalidSettingError:
        number = math.nan
    if not minimum <= number <= maximum:
        raise InvalidSettingError(
            f"invalid {what} {value!r}: expected {unit} from {minimum:g} to {maximum:g}"
        )
    return number


def check_seconds(
    what: str,
    unit: str = "seconds",
    *,
    minimum: float = 0.0,
    maximum: float = MAX_OPTION_SECONDS,
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback accepting a finite number > 0 of *unit*, from *minimum* to *maximum*.

    0, negative numbers, nan, inf and values out of range are usage errors naming
    *what* and the value; an absurd value never reaches a sleep or a socket option.
    """
    if not minimum:
        return _checked(lambda value: validate_seconds(value, what, unit=unit, maximum=maximum))
    return _checked(lambda value: validate_in_range(value, what, unit, minimum, maximum))


def seconds_option(
    *decls: str,
    what: str,
    help: str,
    default: float | None = None,
    minimum: float = 0.0,
    maximum: float = MAX_OPTION_SECONDS,
    unit: str = "seconds",
    metavar: str = "SECONDS",
) -> Callable[[F], F]:
    """A float option of *unit* checked by `check_seconds` (*what* names it in errors)."""
    return click.option(
        *decls,
        type=float,
        default=default,
        show_default=default is not None,
        callback=check_seconds(what, unit, minimum=minimum, maximum=maximum),
        metavar=metavar,
        help=help,
    )


def count_option(*decls: str, help: str, default: int | None = None) -> Callable[[F], F]:
    """A whole-number option from 1 to `MAX_OPTION_COUNT`, checked by `check_positive_count`."""
    return click.option(
        *decls,
        type=int,
        default=default,
        show_default=default is not None,
        callback=check_positive_count,
        metavar="N",
        help=help,
    )


def _host_and_port(endpoint: str) -> tuple[str, str] | None:
    """The host and port of a (valid) tcp, ws or wss endpoint; None for other transports."""
    for prefix in ("tcp://", "ws://", "wss://"):
        if endpoint.startswith(prefix):
            address = endpoint[len(prefix) :].rsplit(";", 1)[-1]  # after a tcp source
            slash = address.find("/", address.find("]") + 1)  # a ws path
            host, _, port = (address if slash < 0 else address[:slash]).rpartition(":")
            return host, port
    return None


def _is_address(host: str) -> bool:
    """Whether *host* is an IP literal (bracketed for IPv6)."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def check_reachable(endpoint: str, *, bind: bool, option: str = "--endpoint") -> None:
    """Refuse, before any socket, what libzmq would take without a word or with a vague one.

    Connecting to ``*`` (host or port) is a usage error. A host name that is not
    an IP literal (nor, when binding, a network interface of this machine) must
    resolve: libzmq would otherwise retry a connect for ever in silence, or fail a
    bind with "No such device". That is a runtime failure (DNS may answer later).
    """
    parts = _host_and_port(endpoint)
    if parts is None:
        return
    host, port = parts
    if not bind and "*" in (host, port):
        raise UsageError(f"{option} {endpoint!r}: '*' (any address, any free port) needs binding")
    if host == "*" or _is_address(host):
        return
    if bind and host in {name for _, name in socket.if_nameindex()}:
        return
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise RuntimeFailure(
            f"cannot resolve host {host!r} of {option} {endpoint!r}: {reason}"
        ) from None


IPV6_HELP: Final[str] = (
    "Turn IPv6 on (tcp://*:PORT then takes both families); "
    "an endpoint like tcp://[::1]:5556 turns it on by itself."
)


def _apply(options: list[Callable[[F], F]]) -> Callable[[F], F]:
    """One decorator that adds *options* in the order given."""

    def decorate(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


SOCKET_KEYWORDS: Final = tuple(sorted(SocketOptions.__optional_keys__ - {"context"}))
"""The keywords of `SocketOptions` that `socket_options` gathers from its options."""


def socket_options() -> Callable[[F], F]:
    """Add one option per socket keyword, handed to the command as ``socket: SocketOptions``.

    --hwm, --heartbeat, --heartbeat-timeout, --max-message-size, --connect-timeout,
    --reconnect-interval and --ipv6: the library's `SocketOptions`, with its
    defaults and its limits, so that every command takes the same ones.
    """
    options = _apply(
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
            seconds_option(
                "--heartbeat",
                what="heartbeat interval",
                default=HEARTBEAT_INTERVAL_S,
                minimum=MIN_TICK_S,
                help="Interval of ZMTP heartbeats, which detect dead and frozen peers.",
            ),
            seconds_option(
                "--heartbeat-timeout",
                what="heartbeat timeout",
                default=HEARTBEAT_TIMEOUT_S,
                minimum=MIN_TICK_S,
                help="Silence after which a peer is declared gone.",
            ),
            click.option(
                "--max-message-size",
                type=int,
                default=MAX_MESSAGE_BYTES,
                show_default=True,
                callback=check_positive_count,
                metavar="BYTES",
                help="Largest message: a larger one is not sent, or is dropped and counted.",
            ),
            seconds_option(
                "--connect-timeout",
                what="connect timeout",
                minimum=MIN_TICK_S,
                help="When connecting: give up an attempt after this long "
                "(default: the heartbeat timeout) and try again.",
            ),
            seconds_option(
                "--reconnect-interval",
                what="reconnect interval",
                default=RECONNECT_INTERVAL_S,
                minimum=MIN_TICK_S,
                help="When connecting: wait this long before trying again (backing off to 1 s).",
            ),
            click.option("--ipv6", is_flag=True, help=IPV6_HELP),
        ]
    )

    def decorate(command: F) -> F:
        @functools.wraps(command)
        def gathered(**kwargs: Any) -> Any:
            socket = SocketOptions()
            for name in SOCKET_KEYWORDS:
                value = kwargs.pop(name)
                if value is not None:
                    socket[name] = value  # type: ignore[literal-required]
            return command(socket=socket, **kwargs)

        return options(cast(F, gathered))

    return decorate


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


def curve_client_options() -> Callable[[F], F]:
    """Add --curve-secret and --curve-server: a client's CURVE keys (radio-sub, radio-top)."""
    return _apply(
        [
            click.option(
                "--curve-secret",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help="Encrypt with CURVE: this subscriber's .key_secret file (see radio-keys).",
            ),
            click.option(
                "--curve-server",
                type=click.Path(dir_okay=False),
                metavar="FILE",
                help=(
                    "With --curve-secret: the publisher's public .key file; "
                    "no other publisher is heard."
                ),
            ),
        ]
    )


def curve_client(
    secret: str | None, server: str | None, flags: str = "--curve"
) -> CurveClient | None:
    """The `CurveClient` of ``{flags}-secret`` and ``{flags}-server`` (None: neither given)."""
    if (secret is None) != (server is None):
        raise UsageError(f"{flags}-secret and {flags}-server go together")
    if secret is None or server is None:
        return None
    return CurveClient.from_files(secret, server)


def verbosity(quiet: bool, verbose: bool) -> int:
    """Map -q/-v to a verbosity level: -1, 0 or 1."""
    return -1 if quiet else (1 if verbose else 0)
