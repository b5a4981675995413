"""The session desk's server: a ROUTER socket and the table of clients and their sessions."""

from __future__ import annotations

from collections import OrderedDict
from itertools import islice
from typing import Final

import zmq

from radio.desk import MAX_REQUEST_BYTES, DeskAnswer, encode_refusal, encode_reply, parse_request
from radio.errors import DeskError
from radio.logs import get_logger
from radio.names import new_session_id
from radio.ratelimit import RateLimitedLog
from radio.security import CurveServer, apply_server
from radio.settings import Heartbeat, SocketSettings
from radio.sockets import attach, configure, open_socket
from radio.transmitter import Transmitter

log = get_logger()

MAX_DESK_CLIENTS: Final[int] = 10_000
"""Default most clients a desk keeps a session for; a new one beyond it is refused."""

MAX_EVICTION_SCAN: Final[int] = 64
"""Most clients looked at to make room in a full desk (a join stays O(1))."""

MAX_ENVELOPE_FRAMES: Final[int] = 3
"""Most frames a request may have (identity, delimiter, request); more are discarded."""

MAX_REQUESTS_PER_PASS: Final[int] = 100
"""Most requests answered while holding the publisher's lock at a time."""

DESK_HWM: Final[int] = 1000
"""Requests queued at the desk (and replies queued for it) before ZeroMQ drops some."""

_NOBLOCK: Final[int] = zmq.NOBLOCK


class DeskClients:
    """The desk's table of clients and the session each was given last; no socket.

    `join` closes the client's previous session and opens a fresh private one in
    the publisher's core, in O(1). At most ``max_clients`` clients are kept:
    clients whose session was closed are forgotten, and when the table is full
    the least recently joined client whose session has no listener is evicted
    (its session closed) to make room for a newcomer, so that a flood of made-up
    names cannot lock honest clients out. Only when every client in the oldest
    `MAX_EVICTION_SCAN` has a listener is a newcomer refused.
    """

    def __init__(self, max_clients: int = MAX_DESK_CLIENTS) -> None:
        self.max_clients = max(1, max_clients)
        # client -> its session, least recently joined first (an OrderedDict: cheap to
        # move to the back and to scan from the front after many deletions)
        self._sessions: OrderedDict[str, str] = OrderedDict()
        self._clients: dict[str, str] = {}  # session -> client
        self.evicted = 0
        self._limited = RateLimitedLog(log)

    def __len__(self) -> int:
        return len(self._sessions)

    def session_of(self, client: str, core: Transmitter) -> str | None:
        """The session the desk gave *client* last, while it is open (else None)."""
        session = self._sessions.get(client)
        return session if session in core.sessions else None

    def forget(self, session: str) -> None:
        """*session* was closed (not by the desk): its client is forgotten."""
        client = self._clients.pop(session, None)
        if client is not None and self._sessions.get(client) == session:
            del self._sessions[client]

    def join(self, client: str, core: Transmitter, frames: list[bytes]) -> str:
        """Close *client*'s previous session, open a fresh one (frames to *frames*); return it.

        Raises `DeskError` when the table is full of clients that have listeners.
        """
        previous = self._sessions.pop(client, None)  # joins again: the most recent now
        if previous is not None:
            self._clients.pop(previous, None)
            if previous in core.sessions:
                frames += core.close(previous)
        elif len(self._sessions) >= self.max_clients:
            self._make_room(core, frames)
        session = new_session_id()
        frames += core.open(session, private=True, remembered=False)
        self._sessions[client] = session
        self._clients[session] = client
        self._limited.info(
            "desk_joined", channel=core.channel, client=client, session=session, previous=previous
        )
        return session

    def _make_room(self, core: Transmitter, frames: list[bytes]) -> None:
        """Forget or evict one client among the least recently joined, or refuse."""
        for client, session in list(islice(self._sessions.items(), MAX_EVICTION_SCAN)):
            if session in core.sessions and core.listeners(session):
                self._sessions.move_to_end(client)  # listened to: not scanned again soon
                continue
            del self._sessions[client]
            self._clients.pop(session, None)
            if session in core.sessions:
                frames += core.close(session)
                self.evicted += 1
                self._limited.warning(
                    "desk_client_evicted", client=client, session=session, evicted=self.evicted
                )
            return
        raise DeskError(f"the desk is full ({self.max_clients} clients, all listened to)")


class DeskServer:
    """Answers JOIN requests: closes the client's previous session, opens a fresh one.

    Only the publisher's service thread calls `serve` (under the publisher's lock):
    a request never costs the application's `send`. The sessions are the clients'
    own (private: never the channel's live session).
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        *,
        advertise: str,
        max_clients: int = MAX_DESK_CLIENTS,
        security: CurveServer | None = None,
        zap_domain: str | None = None,
    ) -> None:
        self.advertise = advertise
        self.clients = DeskClients(max_clients)
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
        self._limited = RateLimitedLog(log.bind(desk=self.endpoint))

    def serve(self, core: Transmitter) -> list[bytes]:
        """Answer the waiting requests (a bounded number); return the frames to publish."""
        frames: list[bytes] = []
        for _ in range(MAX_REQUESTS_PER_PASS):
            try:
                request = self._receive()
            except zmq.Again:
                break
            if len(request) < 2:
                continue  # a ROUTER always prepends the peer's identity: nothing to answer
            envelope, body = request[:-1], request[-1]
            try:
                session = self.clients.join(parse_request(body), core, frames)
                answer = encode_reply(DeskAnswer(self.advertise, core.channel, session))
            except DeskError as exc:
                self._limited.warning("desk_request_refused", reason=str(exc))
                answer = encode_refusal(str(exc))
            self._socket.send_multipart([*envelope, answer], _NOBLOCK)
        return frames

    def _receive(self) -> list[bytes]:
        """One request, frame by frame: a request of many frames is cut, not buffered."""
        frames: list[bytes] = []
        while True:
            frame = self._socket.recv(_NOBLOCK)
            if len(frames) < MAX_ENVELOPE_FRAMES:
                frames.append(frame)
            if not self._socket.getsockopt(zmq.RCVMORE):
                return frames

    def close(self) -> None:
        """Close the desk's socket."""
        self._socket.close(linger=0)
