"""Socket set-up shared by both ends: options, bind or connect, errors naming the endpoint."""

from __future__ import annotations

import zmq

from radio.errors import EndpointError
from radio.settings import Heartbeat

_MS_PER_S = 1000
_MAX_HEARTBEAT_TTL_MS = 6_553_599  # ZMQ_HEARTBEAT_TTL is sent in deciseconds (u16)


def apply_heartbeat(socket: zmq.Socket[bytes], heartbeat: Heartbeat) -> None:
    """Turn ZMTP heartbeats on (must come before bind/connect); the I/O thread answers them.

    The local side drops a connection that sent nothing for ``timeout``; the TTL
    asks the peer to do the same, so a frozen process is noticed from both ends.
    """
    if heartbeat.interval is None:
        return
    timeout_ms = round(heartbeat.timeout * _MS_PER_S)
    socket.setsockopt(zmq.HEARTBEAT_IVL, max(1, round(heartbeat.interval * _MS_PER_S)))
    socket.setsockopt(zmq.HEARTBEAT_TIMEOUT, timeout_ms)
    socket.setsockopt(zmq.HEARTBEAT_TTL, min(max(100, timeout_ms), _MAX_HEARTBEAT_TTL_MS))


def attach(socket: zmq.Socket[bytes], endpoint: str, *, bind: bool) -> str:
    """Bind or connect *socket*; return the resolved endpoint (the real port for ``*``)."""
    try:
        if bind:
            socket.bind(endpoint)
            return str(socket.getsockopt_string(zmq.LAST_ENDPOINT))
        socket.connect(endpoint)
    except zmq.ZMQError as exc:
        verb = "bind" if bind else "connect"
        raise EndpointError(exc.errno, f"cannot {verb} {endpoint!r}: {exc.strerror}") from None
    return endpoint
