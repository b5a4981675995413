"""The constructors' keyword arguments as TypedDicts, for typed ``**settings`` (PEP 692)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypedDict

if TYPE_CHECKING:  # annotations only: no import cycle at run time
    import zmq

    from radio.presence import ListenerEvent
    from radio.security import CurveClient, CurveServer


class PublisherSettings(TypedDict, total=False):
    """Every keyword argument of `radio.Publisher` (all optional)."""

    channel: str
    bind: bool
    hwm: int
    heartbeat: float | None
    heartbeat_timeout: float
    beacon_interval: float
    linger: float
    max_message_size: int | None
    connect_timeout: float | None
    reconnect_interval: float
    ipv6: bool
    batch_size: int
    batch_delay: float
    on_listener: Callable[[ListenerEvent], object] | None
    security: CurveServer | None
    desk: str | None
    advertise: str | None
    last_value: bool
    max_desk_clients: int
    context: zmq.Context[zmq.Socket[bytes]] | None


class JoinSettings(TypedDict, total=False):
    """The keyword arguments of `radio.Subscriber` that `Subscriber.join` passes on.

    The desk names the channel, so ``channel`` is not one of them.
    """

    bind: bool
    hwm: int
    conflate: bool
    heartbeat: float | None
    heartbeat_timeout: float
    max_message_size: int | None
    connect_timeout: float | None
    reconnect_interval: float
    ipv6: bool
    off_air_after: int
    security: CurveClient | None
    context: zmq.Context[zmq.Socket[bytes]] | None


class SubscriberSettings(JoinSettings, total=False):
    """Every keyword argument of `radio.Subscriber` (all optional)."""

    channel: str
