"""Validation of the settings both ends share: endpoints, HWM, TTL, timeouts, sockets."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, TypedDict

import zmq

from radio.core.wire import MAX_BATCH_MESSAGES, MAX_BEACON_INTERVAL_S, MIN_BEACON_INTERVAL_S
from radio.errors import InvalidSettingError

DEFAULT_HWM: Final[int] = 1000
"""Messages queued per subscriber before ZeroMQ drops (ZeroMQ's own default)."""

HEARTBEAT_INTERVAL_S: Final[float] = 0.5
"""Default time between ZMTP heartbeats (PINGs) on every connection."""

HEARTBEAT_TIMEOUT_S: Final[float] = 2.0
"""Default time without any traffic after which a connection is declared dead."""

DEFAULT_LINGER_S: Final[float] = 1.0
"""How long `close` waits to flush what was sent before dropping it."""

MAX_MESSAGE_BYTES: Final[int] = 16 * 1024 * 1024
"""Default largest frame accepted (ZMQ_MAXMSGSIZE): bounds what a peer can make us allocate."""

RECONNECT_INTERVAL_S: Final[float] = 0.1
"""Default wait before a connecting socket tries again (ZMQ_RECONNECT_IVL)."""

RECONNECT_MAX_INTERVAL_S: Final[float] = 1.0
"""Default longest wait between two attempts as they back off (ZMQ_RECONNECT_IVL_MAX)."""

MS_PER_S: Final[int] = 1000
"""Milliseconds in a second: socket options take milliseconds, radio speaks seconds."""

_ENDPOINT_RE: Final = re.compile(r"(tcp|ipc|inproc|ws|wss|pgm|epgm|vmci)://\S+")

_PORTED: Final = ("tcp://", "ws://", "wss://")
"""Transports whose address is HOST:PORT (tcp may add a source, ``SOURCE;HOST:PORT``)."""

_HOST_RE: Final = re.compile(r"\*|[A-Za-z0-9_%.-]+|\[[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?\]")
"""``*``, a name (DNS host or network interface), an IPv4 literal or a bracketed IPv6 one."""

MAX_PORT: Final[int] = 65535
"""Largest TCP port: libzmq would silently take a larger one modulo 65536."""


def _addresses(endpoint: str) -> list[str]:
    """The HOST:PORT parts of a tcp, ws or wss *endpoint* (none for other transports)."""
    for prefix in _PORTED:
        if endpoint.startswith(prefix):
            rest = endpoint[len(prefix) :]
            if prefix != "tcp://":  # ws://HOST:PORT/PATH
                closing = rest.find("]")
                slash = rest.find("/", closing + 1)
                rest = rest if slash < 0 else rest[:slash]
                return [rest]
            return rest.split(";")
    return []


def _check_address(endpoint: str, address: str) -> None:
    """Raise `InvalidSettingError` unless *address* is HOST:PORT with a port radio can use."""
    host, colon, port = address.rpartition(":")
    if not colon or not host:
        raise InvalidSettingError(
            f"invalid endpoint {endpoint!r}: expected HOST:PORT in {address!r}, "
            "e.g. tcp://127.0.0.1:5556"
        )
    if ":" in host and not host.startswith("["):
        raise InvalidSettingError(
            f"invalid endpoint {endpoint!r}: an IPv6 address goes in brackets, "
            f"e.g. tcp://[::1]:{port}"
        )
    if _HOST_RE.fullmatch(host) is None:
        raise InvalidSettingError(f"invalid endpoint {endpoint!r}: invalid host {host!r}")
    if port != "*" and not (port.isascii() and port.isdigit() and 1 <= int(port) <= MAX_PORT):
        raise InvalidSettingError(
            f"invalid endpoint {endpoint!r}: port {port!r} is not from 1 to {MAX_PORT} "
            "(or * for any free port when binding)"
        )


def validate_endpoint(endpoint: object) -> str:
    """Return *endpoint* if it is a ZeroMQ endpoint (``tcp://host:port``, ...).

    For tcp, ws and wss the port must be from 1 to `MAX_PORT` or ``*``, and the
    host ``*``, a name, an IPv4 literal or an IPv6 literal in brackets.
    """
    if not isinstance(endpoint, str) or _ENDPOINT_RE.fullmatch(endpoint) is None:
        raise InvalidSettingError(
            f"invalid endpoint {endpoint!r}: expected TRANSPORT://ADDRESS with TRANSPORT "
            "one of tcp, ipc, inproc, ws, wss, pgm, epgm, vmci"
        )
    addresses = _addresses(endpoint)
    if addresses:  # a tcp source (SOURCE;HOST:PORT) is left to libzmq: its port is optional
        _check_address(endpoint, addresses[-1])
    return endpoint


def is_ipv6_endpoint(endpoint: str) -> bool:
    """Whether *endpoint* names an IPv6 literal (``tcp://[::1]:5556``): it needs ZMQ_IPV6."""
    return any(address.startswith("[") for address in _addresses(endpoint))


MAX_COUNT: Final[int] = 2**31 - 1
"""Largest count a socket option takes (a C int)."""

MAX_SOCKET_SECONDS: Final[float] = 2_000_000.0
"""Largest time a socket option takes (milliseconds in a C int: about 23 days)."""


def validate_count(value: object, what: str) -> int:
    """Return *value* if it is an int from 0 to `MAX_COUNT` (``bool`` is refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidSettingError(
            f"invalid {what} {value!r}: expected a whole number from 0 to {MAX_COUNT}"
        )
    return value


def validate_max_count(value: object) -> int:
    """Return *value* as the most messages one call returns: a whole number from 1."""
    if validate_count(value, "max count") == 0:
        raise InvalidSettingError(
            f"invalid max count {value!r}: expected a whole number from 1 to {MAX_COUNT}"
        )
    return value  # type: ignore[return-value]  # validate_count checked it is an int


def validate_batch_size(value: object) -> int:
    """Return *value* as a batch size: 1 to `MAX_BATCH_MESSAGES` messages a frame (0: 1)."""
    size = validate_count(value, "batch size") or 1
    if size > MAX_BATCH_MESSAGES:
        raise InvalidSettingError(
            f"invalid batch size {value}: at most {MAX_BATCH_MESSAGES} messages a frame"
        )
    return size


def validate_beacon_interval(value: object) -> float:
    """Return *value* as a beacon interval: `MIN_BEACON_INTERVAL_S` to `MAX_BEACON_INTERVAL_S`.

    Subscribers refuse a beacon announcing an interval outside that range as malformed.
    """
    seconds = validate_seconds(value, "beacon interval", maximum=MAX_BEACON_INTERVAL_S)
    if seconds < MIN_BEACON_INTERVAL_S:
        raise InvalidSettingError(
            f"invalid beacon interval {value!r}: at least {MIN_BEACON_INTERVAL_S:g} seconds"
        )
    return seconds


def validate_ttl(value: object) -> float:
    """Return *value* as a time to live in seconds (> 0); the error for 0 names None."""
    if value == 0 and not isinstance(value, bool):
        raise InvalidSettingError(
            f"invalid ttl {value!r}: expected seconds > 0, or None for no expiry"
        )
    return validate_seconds(value, "ttl")


def validate_seconds(
    value: object,
    what: str,
    *,
    allow_zero: bool = False,
    unit: str = "seconds",
    maximum: float = math.inf,
) -> float:
    """Return *value* as a float if finite and > 0 (or >= 0 with *allow_zero*), <= *maximum*.

    *what* and *unit* ("seconds", "messages per second") name it in the error.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSettingError(f"invalid {what} {value!r}: expected a number of {unit}")
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or (number == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidSettingError(f"invalid {what} {value!r}: expected {unit} {bound}")
    if number > maximum:
        raise InvalidSettingError(f"invalid {what} {value!r}: at most {maximum:g} {unit}")
    return number


def to_ms(seconds: float) -> int:
    """Return *seconds* as whole milliseconds for a socket option.

    A positive time never becomes 0, which ZeroMQ often reads as "off" or "do not wait".
    """
    ms = round(seconds * MS_PER_S)
    return 1 if ms == 0 and seconds > 0 else ms


def validate_timeout(value: object) -> float | None:
    """Return a timeout in seconds (``None`` waits for ever; ``0`` does not wait)."""
    return None if value is None else validate_seconds(value, "timeout", allow_zero=True)


def next_wait(deadline: float | None, now: float, longest: float) -> float | None:
    """How long to wait next: at most *longest*, not past *deadline* (None: no deadline).

    None once *deadline* has passed: the caller gives up. *now* is on the clock of
    *deadline* (a monotonic clock, or an event loop's).
    """
    if deadline is None:
        return longest
    remaining = deadline - now
    return None if remaining <= 0 else min(longest, remaining)


@dataclass(frozen=True)
class Heartbeat:
    """ZMTP heartbeat settings; ``interval`` None turns heartbeats off."""

    interval: float | None = HEARTBEAT_INTERVAL_S
    timeout: float = HEARTBEAT_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.interval is not None:
            validate_seconds(self.interval, "heartbeat interval", maximum=MAX_SOCKET_SECONDS)
        validate_seconds(self.timeout, "heartbeat timeout", maximum=MAX_SOCKET_SECONDS)


@dataclass(frozen=True)
class SocketSettings:
    """What `radio.sockets.configure` sets on a socket, validated once.

    ``hwm`` is in messages (``0``: no limit) and ``max_message_size`` in bytes
    (None: no limit); every time is in seconds. ``connect_timeout`` None means the
    heartbeat timeout. The last three only apply to a connecting socket: after
    heartbeats drop a connection across a silent partition, a connect attempt is
    otherwise retried by the kernel's SYN back-off (1 s five times, then 2, 4, 8,
    16 s) and recovery takes far longer than the heartbeat timeout; with
    ZMQ_CONNECT_TIMEOUT ZeroMQ gives up on the attempt and tries again on its own
    schedule, from ``reconnect_interval`` doubling up to ``reconnect_max_interval``
    (a maximum not above the interval keeps the interval constant, as in ZeroMQ).
    ``ipv6`` turns IPv6 on (ZMQ_IPV6: a socket bound to ``*`` takes both families);
    an endpoint with a bracketed IPv6 literal turns it on by itself (see `attach`).
    """

    hwm: int = DEFAULT_HWM
    heartbeat: Heartbeat = Heartbeat()
    max_message_size: int | None = MAX_MESSAGE_BYTES
    linger: float = DEFAULT_LINGER_S
    connect_timeout: float | None = None
    reconnect_interval: float = RECONNECT_INTERVAL_S
    reconnect_max_interval: float = RECONNECT_MAX_INTERVAL_S
    ipv6: bool = False

    def __post_init__(self) -> None:
        validate_count(self.hwm, "hwm")
        if not isinstance(self.heartbeat, Heartbeat):
            raise InvalidSettingError(
                f"invalid heartbeat {self.heartbeat!r}: expected a radio.settings.Heartbeat"
            )
        if self.max_message_size is not None:
            validate_count(self.max_message_size, "max message size")
        validate_seconds(self.linger, "linger", allow_zero=True, maximum=MAX_SOCKET_SECONDS)
        if self.connect_timeout is not None:
            validate_seconds(self.connect_timeout, "connect timeout", maximum=MAX_SOCKET_SECONDS)
        validate_seconds(self.reconnect_interval, "reconnect interval", maximum=MAX_SOCKET_SECONDS)
        validate_seconds(
            self.reconnect_max_interval, "reconnect max interval", maximum=MAX_SOCKET_SECONDS
        )

    @property
    def connect_timeout_s(self) -> float:
        """The connect timeout in effect: ``connect_timeout``, or the heartbeat timeout."""
        return self.heartbeat.timeout if self.connect_timeout is None else self.connect_timeout


if TYPE_CHECKING:  # annotations only: no import cycle at run time
    from radio.core.presence import ListenerEvent
    from radio.security import CurveClient, CurveServer


class SocketOptions(TypedDict, total=False):
    """The socket keywords of every radio constructor (`Publisher`, `Subscriber`, `Relay`).

    Declared once here: each constructor takes them as ``**options``.

    - ``hwm``: messages queued per peer before ZeroMQ drops (``0``: no limit;
      default `DEFAULT_HWM`).
    - ``heartbeat``, ``heartbeat_timeout``: ZMTP heartbeats, in seconds, which
      detect dead and frozen peers (``heartbeat=None`` turns them off; defaults
      `HEARTBEAT_INTERVAL_S`, `HEARTBEAT_TIMEOUT_S`).
    - ``max_message_size``: largest message in bytes (None: no limit; default
      `MAX_MESSAGE_BYTES`). A publisher refuses to send a larger one, a
      subscriber drops and counts it, a relay drops the connection that sends it.
    - ``connect_timeout``, ``reconnect_interval``: a connecting socket abandons a
      connect attempt after ``connect_timeout`` seconds (None: the heartbeat
      timeout) and tries again every ``reconnect_interval`` seconds, backing off
      to one second: after a network partition it hears again within about the
      heartbeat timeout plus a second, not on the kernel's SYN back-off.
    - ``ipv6``: turn IPv6 on (``tcp://*:PORT`` then takes both families); an
      endpoint with a bracketed IPv6 literal turns it on by itself.
    - ``context``: the ZeroMQ context (default: pyzmq's global one).
    """

    hwm: int
    heartbeat: float | None
    heartbeat_timeout: float
    max_message_size: int | None
    connect_timeout: float | None
    reconnect_interval: float
    ipv6: bool
    context: zmq.Context[zmq.Socket[bytes]] | None


def check_options(options: Mapping[str, object], owner: str) -> None:
    """Refuse a keyword that is not a socket option, as Python refuses an unknown one."""
    unknown = sorted(options.keys() - SocketOptions.__optional_keys__)
    if unknown:
        raise TypeError(f"{owner}() got an unexpected keyword argument {unknown[0]!r}")


def socket_settings(
    options: SocketOptions, *, linger: float, max_message_size: int | None
) -> SocketSettings:
    """The `SocketSettings` of *options*, with the socket's own *linger* and size limit."""
    return SocketSettings(
        hwm=options.get("hwm", DEFAULT_HWM),
        heartbeat=Heartbeat(
            options.get("heartbeat", HEARTBEAT_INTERVAL_S),
            options.get("heartbeat_timeout", HEARTBEAT_TIMEOUT_S),
        ),
        max_message_size=max_message_size,
        linger=linger,
        connect_timeout=options.get("connect_timeout"),
        reconnect_interval=options.get("reconnect_interval", RECONNECT_INTERVAL_S),
        ipv6=bool(options.get("ipv6", False)),
    )


def message_limit(options: SocketOptions) -> int | None:
    """The validated ``max_message_size`` of *options* (None: no limit)."""
    limit = options.get("max_message_size", MAX_MESSAGE_BYTES)
    return None if limit is None else validate_count(limit, "max message size")


def socket_context(options: SocketOptions) -> zmq.Context[zmq.Socket[bytes]]:
    """The ZeroMQ context of *options*: the one given, or pyzmq's global one."""
    context = options.get("context")
    return context if context is not None else zmq.Context.instance()


class PublisherSettings(SocketOptions, total=False):
    """Every keyword argument of `radio.Publisher` (all optional)."""

    channel: str
    bind: bool
    beacon_interval: float
    linger: float
    batch_size: int
    batch_delay: float
    on_listener: Callable[[ListenerEvent], object] | None
    security: CurveServer | None
    desk: str | None
    advertise: str | None
    last_value: bool
    max_desk_clients: int
    max_desk_clients_per_key: int
    audience: bool


class JoinSettings(SocketOptions, total=False):
    """The keyword arguments of `radio.Subscriber` that `Subscriber.join` passes on.

    The desk names the channel, so ``channel`` is not one of them.
    """

    bind: bool
    conflate: bool
    off_air_after: int
    security: CurveClient | None


class SubscriberSettings(JoinSettings, total=False):
    """Every keyword argument of `radio.Subscriber` (all optional)."""

    channel: str
