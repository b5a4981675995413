"""Asking a publisher's session desk for a fresh session (one REQ round trip)."""

from __future__ import annotations

from typing import Final

import zmq

from radio.desk import MAX_REPLY_BYTES, DeskAnswer, encode_request, parse_reply
from radio.errors import DeskError
from radio.names import validate_name
from radio.security import CurveClient, apply_client
from radio.settings import is_ipv6_endpoint, to_ms

REQUEST_TIMEOUT_S: Final[float] = 5.0
"""Default time a client waits for the desk's answer."""


def ask(
    desk: str,
    client: str,
    timeout: float = REQUEST_TIMEOUT_S,
    security: CurveClient | None = None,
) -> DeskAnswer:
    """Ask the desk at *desk* for a fresh session for *client*; return its answer.

    The answer names ``endpoint``, ``channel`` and ``session``. Raises `DeskError`
    when the desk refuses or does not answer within *timeout* seconds. With
    *security* the request goes over CURVE (the desk uses the publisher's keys).
    """
    validate_name(client, "client")
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, to_ms(timeout))
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_REPLY_BYTES)
        if security is not None:
            apply_client(sock, security)  # before connect
        if is_ipv6_endpoint(desk):
            sock.setsockopt(zmq.IPV6, 1)  # a bracketed IPv6 literal asks for it, as elsewhere
        sock.connect(desk)
        sock.send(encode_request(client))
        try:
            raw = sock.recv()
        except zmq.Again:
            raise DeskError(f"no answer from the desk at {desk!r} within {timeout:g} s") from None
    finally:
        sock.close(linger=0)
    return parse_reply(raw, desk)
