"""Validation of the settings both ends share: endpoints, HWM, TTL, timeouts, heartbeats."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Final

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

_ENDPOINT_RE: Final = re.compile(r"(tcp|ipc|inproc|ws|wss|pgm|epgm|vmci)://\S+")


def validate_endpoint(endpoint: object) -> str:
    """Return *endpoint* if it looks like a ZeroMQ endpoint (``tcp://host:port``, ...)."""
    if not isinstance(endpoint, str) or _ENDPOINT_RE.fullmatch(endpoint) is None:
        raise InvalidSettingError(
            f"invalid endpoint {endpoint!r}: expected TRANSPORT://ADDRESS with TRANSPORT "
            "one of tcp, ipc, inproc, ws, wss, pgm, epgm, vmci"
        )
    return endpoint


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


def validate_timeout(value: object) -> float | None:
    """Return a timeout in seconds (``None`` waits for ever; ``0`` does not wait)."""
    return None if value is None else validate_seconds(value, "timeout", allow_zero=True)


@dataclass(frozen=True)
class Heartbeat:
    """ZMTP heartbeat settings; ``interval`` None turns heartbeats off."""

    interval: float | None = HEARTBEAT_INTERVAL_S
    timeout: float = HEARTBEAT_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.interval is not None:
            validate_seconds(self.interval, "heartbeat interval", maximum=MAX_SOCKET_SECONDS)
        validate_seconds(self.timeout, "heartbeat timeout", maximum=MAX_SOCKET_SECONDS)
