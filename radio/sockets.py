"""Socket set-up shared by both ends: options, bind or connect, errors naming the endpoint."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Callable, Iterator
from functools import partial
from typing import Final

import zmq

from radio.errors import EndpointError
from radio.security import CurveClient, apply_client
from radio.settings import (
    MAX_COUNT,
    Heartbeat,
    SocketOptions,
    SocketSettings,
    is_ipv6_endpoint,
    message_limit,
    socket_context,
    socket_settings,
    to_ms,
)

MAX_SUBSCRIPTION_BYTES: Final[int] = 4096
"""Largest message an XPUB accepts (ZMQ_MAXMSGSIZE): only subscriptions come its way,
so this bounds what a rogue subscriber can make us allocate."""

SUBSCRIPTION_HWM: Final[int] = 1000
"""Subscriptions a SUB queues towards its peer (its SNDHWM, ZeroMQ's default).

libzmq drops a subscription that does not fit (``xsub_t::send_subscription``), so
a SUB's send side must not take a small data ``hwm``."""

OVERSIZE_FACTOR: Final[int] = 4
"""A frame over ``max_message_size`` is counted and dropped; over this many times it,
libzmq drops the connection instead (bounding what a hostile peer makes us allocate)."""

CLOSE_LINGER_S: Final[float] = 0.1
"""How long closing a SUB waits to flush the last unsubscriptions."""

READ_FRAMES: Final[int] = 256
"""Most frames read off a socket at a time (the hot path decodes them in one loop)."""

READ_BYTES: Final[int] = 256 * 1024
"""About the most bytes read off a socket at a time: large frames come a few at a
time, so that what is decoded is still in the CPU's cache (64 KiB frames read 256 at
a time ran at half the rate of 4 at a time)."""

_NOBLOCK: Final[int] = zmq.NOBLOCK
_RCVMORE: Final[int] = zmq.RCVMORE

_HINTS: Final[dict[int, str]] = {
    errno.ENODEV: " (the host is neither an address nor a network interface of this machine)",
}
"""What a bind error means, when libzmq's words do not say it."""

_MAX_HEARTBEAT_TTL_MS: Final[int] = 6_553_599  # ZMQ_HEARTBEAT_TTL is sent in deciseconds (u16)


def apply_heartbeat(socket: zmq.Socket[bytes], heartbeat: Heartbeat) -> None:
    """Turn ZMTP heartbeats on (must come before bind/connect); the I/O thread answers them.

    The local side drops a connection that sent nothing for ``timeout``; the TTL
    asks the peer to do the same, so a frozen process is noticed from both ends.
    ``TCP_MAXRT`` (Linux ``TCP_USER_TIMEOUT``) makes a side whose sent data goes
    unacknowledged for ``timeout`` drop the connection too: in a cut one way only,
    the side that still hears its peer's heartbeats learns of the cut by itself,
    not from the peer's FIN, which waits in TCP's retransmission back-off.
    """
    if heartbeat.interval is None:
        return
    timeout_ms = to_ms(heartbeat.timeout)
    socket.setsockopt(zmq.HEARTBEAT_IVL, to_ms(heartbeat.interval))
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, timeout_ms)
    socket.setsockopt(zmq.HEARTBEAT_TTL, min(max(100, timeout_ms), _MAX_HEARTBEAT_TTL_MS))
    socket.setsockopt(zmq.TCP_MAXRT, timeout_ms)


def configure(socket: zmq.Socket[bytes], settings: SocketSettings, *, connecting: bool) -> None:
    """Apply *settings* to *socket*; call it before bind/connect (and before security).

    Sets SNDHWM and RCVHWM to ``hwm``, LINGER, MAXMSGSIZE (-1 for no limit),
    IPV6 when ``ipv6`` and the ZMTP heartbeats. A *connecting* socket also gets:

    - ``IMMEDIATE=1``: its pipe, its queue and the old peer's subscriptions would
      otherwise survive a reconnect and replay stale messages to the new peer;
      with it, they are dropped on disconnect.
    - ``CONNECT_TIMEOUT``, ``RECONNECT_IVL`` and ``RECONNECT_IVL_MAX``: after a
      silent network partition the heartbeats drop the connection, and without a
      connect timeout the next attempt waits on the kernel's SYN back-off (1 s five
      times, then 2, 4, 8, 16 s); with one, ZeroMQ abandons the attempt and tries
      again every ``reconnect_interval``, backing off to ``reconnect_max_interval``
      (0.4-0.7 s recovery measured). See `SocketSettings`.

    Socket-type options (``XPUB_VERBOSER``, a SUB's send-side HWM) stay with the
    caller, beside the call.
    """
    socket.setsockopt(zmq.SNDHWM, settings.hwm)
    socket.setsockopt(zmq.RCVHWM, settings.hwm)
    socket.setsockopt(zmq.LINGER, to_ms(settings.linger))
    max_size = settings.max_message_size
    socket.setsockopt(zmq.MAXMSGSIZE, -1 if max_size is None else max_size)
    if settings.ipv6:
        socket.setsockopt(zmq.IPV6, 1)
    apply_heartbeat(socket, settings.heartbeat)
    if connecting:
        socket.setsockopt(zmq.IMMEDIATE, 1)
        socket.setsockopt(zmq.CONNECT_TIMEOUT, to_ms(settings.connect_timeout_s))
        socket.setsockopt(zmq.RECONNECT_IVL, to_ms(settings.reconnect_interval))
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, to_ms(settings.reconnect_max_interval))


def open_socket(
    context: zmq.Context[zmq.Socket[bytes]], kind: int, endpoint: str
) -> zmq.Socket[bytes]:
    """Create a socket of *kind*; a ZeroMQ error becomes an `EndpointError` naming *endpoint*."""
    try:
        return context.socket(kind)
    except zmq.ZMQError as exc:
        raise setup_error(exc, endpoint) from None


def setup_error(exc: zmq.ZMQError, endpoint: str) -> EndpointError:
    """The `EndpointError` to raise for a ZeroMQ error while setting up a socket for *endpoint*."""
    return EndpointError(exc.errno, f"cannot set up a socket for {endpoint!r}: {exc.strerror}")


@contextlib.contextmanager
def setting_up(socket: zmq.Socket[bytes], endpoint: str) -> Iterator[None]:
    """Close *socket* if the block setting it up fails; a ZeroMQ error becomes `setup_error`."""
    try:
        yield
    except BaseException as exc:
        socket.close(linger=0)
        if isinstance(exc, zmq.ZMQError):
            raise setup_error(exc, endpoint) from None
        raise


def sub_settings(options: SocketOptions) -> tuple[int | None, SocketSettings]:
    """A SUB's ``max_message_size`` (None: no limit) and its socket settings.

    Frames over that size are counted and dropped by the tuner, one by one; only a
    frame over `OVERSIZE_FACTOR` times it makes libzmq drop the connection (and with
    it whatever follows), which bounds what a hostile publisher makes us allocate.
    """
    limit = message_limit(options)
    settings = socket_settings(
        options,
        linger=CLOSE_LINGER_S,
        max_message_size=None if limit is None else min(limit * OVERSIZE_FACTOR, MAX_COUNT),
    )
    return limit, settings


def open_sub(
    options: SocketOptions,
    endpoint: str,
    settings: SocketSettings,
    *,
    bind: bool,
    security: CurveClient | None,
) -> zmq.Socket[bytes]:
    """A SUB socket for *endpoint*: configured, secured, neither bound nor connected yet.

    A `Subscriber`'s and an `Observer`'s: a SUB sends only subscriptions, and libzmq
    drops one that does not fit, so its send side keeps ZeroMQ's default HWM
    (`SUBSCRIPTION_HWM`), whatever the data hwm; its receive side has none.
    """
    socket = open_socket(socket_context(options), zmq.SUB, endpoint)
    with setting_up(socket, endpoint):
        configure(socket, settings, connecting=not bind)
        socket.setsockopt(zmq.SNDHWM, SUBSCRIPTION_HWM)
        # libzmq never stops reading a connection for us: a full SUB queue whose
        # connection ends aborts libzmq 4.3.5 (upstream #4364, #3937, #4767). The
        # owner drains the queue (a subscriber's service thread, an observer's poll);
        # the publisher's send queue and TCP bound what waits while it does not.
        socket.setsockopt(zmq.RCVHWM, 0)
        if security is not None:
            apply_client(socket, security)  # before bind/connect
    return socket


def attach(socket: zmq.Socket[bytes], endpoint: str, *, bind: bool) -> str:
    """Bind or connect *socket*; return the resolved endpoint (the real port for ``*``).

    A bracketed IPv6 literal (``tcp://[::1]:5556``) turns ZMQ_IPV6 on first: without
    it libzmq fails to bind with "No such device" and connects to nothing.
    """
    try:
        if is_ipv6_endpoint(endpoint):
            socket.setsockopt(zmq.IPV6, 1)  # must come before bind/connect
        if bind:
            socket.bind(endpoint)
            return str(socket.getsockopt_string(zmq.LAST_ENDPOINT))
        socket.connect(endpoint)
    except zmq.ZMQError as exc:
        verb = "bind" if bind else "connect"
        hint = _HINTS.get(exc.errno or 0, "") if bind else ""
        raise EndpointError(
            exc.errno, f"cannot {verb} {endpoint!r}: {zmq.strerror(exc.errno or 0)}{hint}"
        ) from None
    return endpoint


def fast_send(socket: zmq.Socket[bytes]) -> Callable[..., object]:
    """The quickest way to send one frame on *socket*, checked to work.

    pyzmq's Cython ``send``, without the Python wrapper that handles ``group`` and
    ``routing_id`` (which XPUB never uses), costs about 4x less per message. It is
    private to pyzmq, so it is used only when present and the public ``send`` is
    the fallback.
    """
    backend = getattr(getattr(zmq, "backend", None), "Socket", None)
    raw = getattr(backend, "send", None)
    if raw is None or not isinstance(socket, backend):  # type: ignore[arg-type]
        return socket.send
    return partial(raw, socket)


def as_payload(payload: object) -> bytes:
    """Return *payload* as bytes (bytes, bytearray and memoryview are accepted)."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(
        f"payload must be bytes, not {type(payload).__name__} (encode text first): {payload!r:.40}"
    )


def read_messages(socket: zmq.Socket[bytes]) -> list[bytes]:
    """The frames of the whole messages waiting on *socket*, up to a bound; none: ``[]``.

    Up to `READ_FRAMES` frames, fewer when they are large (about `READ_BYTES`), and
    never stopping between the parts of a message: the parts of a message arrive
    together, so once its first frame is there the rest are, and RCVMORE is
    checked once per full read, not per frame. It never blocks.
    """
    receive = socket.recv
    try:
        first = receive(_NOBLOCK)
    except zmq.Again:
        return []
    frames = [first]
    append = frames.append
    try:
        if len(first) < READ_BYTES:
            # As many more as fit in READ_BYTES, if frames are as large as the larger of
            # the first two (a two-part message's head is small, its payload not).
            append(second := receive(_NOBLOCK))
            for _ in range(min(READ_FRAMES, READ_BYTES // (max(len(first), len(second)) + 1)) - 2):
                append(receive(_NOBLOCK))
    except zmq.Again:
        pass  # no message is there: none is half read either
    else:
        more = socket.get
        while more(_RCVMORE):  # once per full read, not per frame
            append(receive(_NOBLOCK))
    return frames
