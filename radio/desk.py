"""The session desk's sockets: the publisher's ROUTER (`DeskServer`), a client's request (`ask`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import zmq

from radio.core.desk import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    DeskAnswer,
    encode_request,
    parse_reply,
)
from radio.core.names import validate_name
from radio.errors import DeskError, InvalidSettingError
from radio.security import CurveClient, CurveServer, apply_client, apply_server, user_id
from radio.settings import Heartbeat, SocketSettings, is_ipv6_endpoint, to_ms
from radio.sockets import attach, configure, open_socket

REQUEST_TIMEOUT_S: Final[float] = 5.0
"""Default time a client waits for the desk's answer."""

MAX_ENVELOPE_FRAMES: Final[int] = 3
"""Most frames a request may have (identity, delimiter, request); more are discarded."""

MAX_REQUESTS_PER_PASS: Final[int] = 100
"""Most requests answered while holding the publisher's lock at a time."""

DESK_HWM: Final[int] = 1000
"""Requests queued at the desk (and replies queued for it) before ZeroMQ drops some."""

_NOBLOCK: Final[int] = zmq.NOBLOCK

_WILDCARD_HOSTS: Final = frozenset({"*", "0.0.0.0", "[::]", "::", "[::0]"})  # noqa: S104 - to refuse them


def check_advertised(endpoint: str, *, given: bool) -> str:
    """Return *endpoint* unless it is a wildcard address desk clients cannot reach.

    *given* says whether the user passed it (``advertise``) or it is the
    publisher's own endpoint: the error names what to change.
    """
    host = endpoint.partition("://")[2].rpartition(":")[0]
    if host in _WILDCARD_HOSTS:
        what = "advertise" if given else "the publisher's endpoint (bound on every address)"
        raise InvalidSettingError(
            f"invalid desk address {endpoint!r}: {what} is a wildcard that desk clients "
            "cannot connect to; pass advertise= (radio-pub --advertise) with an address "
            "they reach"
        )
    return endpoint


class DeskServer:
    """The desk's ROUTER socket: reads requests, sends the replies it is given; plain I/O.

    What a request gets is decided by the publisher's core
    (`radio.core.transmitter.Transmitter.answer_desk`), told where clients listen
    (*advertise*) and which peer asked:
    its authenticated key with CURVE, else its connection (the routing ID the
    ROUTER gave it, after a zero byte that no Z85 key holds). Only the publisher's
    service thread calls `serve` (under the publisher's lock), so a request never
    costs the application's `send`.
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        advertise: str,
        security: CurveServer | None = None,
        zap_domain: str | None = None,
    ) -> None:
        sock = open_socket(context, zmq.ROUTER, endpoint)
        try:
            # MAX_REQUEST_BYTES: a hostile peer allocates little. No heartbeats: requests are short.
            settings = SocketSettings(DESK_HWM, Heartbeat(None), MAX_REQUEST_BYTES, linger=0.0)
            configure(sock, settings, connecting=False)
            if security is not None:
                assert zap_domain is not None
                apply_server(sock, security, zap_domain)  # before bind
            self.endpoint = attach(sock, endpoint, bind=True)
        except BaseException:
            sock.close(linger=0)
            raise
        self._socket = sock
        self._curve = security is not None
        self.advertise = advertise  # where its clients are told to listen

    def serve(self, answer: Callable[[bytes, str, bytes], bytes]) -> None:
        """Reply to the waiting requests (a bounded number) as *answer* says.

        *answer* is `Transmitter.answer_desk` as the owner calls it (under its lock,
        publishing the frames an answer makes due, ENDs and beacons, before it
        returns the reply), told which peer asked (see the class).
        """
        for _ in range(MAX_REQUESTS_PER_PASS):
            try:
                request, owner = self._receive()
            except zmq.Again:
                break
            if len(request) < 2:
                continue  # a ROUTER always prepends the peer's identity: nothing to answer
            envelope, body = request[:-1], request[-1]
            reply = answer(body, self.advertise, owner)
            self._socket.send_multipart([*envelope, reply], _NOBLOCK)

    def _receive(self) -> tuple[list[bytes], bytes]:
        """One request, frame by frame, and the peer that sent it.

        A request of many frames is cut, not buffered.
        """
        first = self._socket.recv(_NOBLOCK, copy=False)  # the routing ID: the connection
        owner = user_id(first) if self._curve else b""
        frames = [first.bytes]
        more = first.more
        while more:
            frame = self._socket.recv(_NOBLOCK)
            if len(frames) < MAX_ENVELOPE_FRAMES:
                frames.append(frame)
            more = bool(self._socket.getsockopt(zmq.RCVMORE))
        return frames, owner or b"\x00" + frames[0]

    def close(self) -> None:
        """Close the desk's socket."""
        self._socket.close(linger=0)


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
