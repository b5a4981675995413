"""The session desk without sockets: its request and reply format, and its table of clients."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from itertools import islice
from typing import Final, NamedTuple

from radio.core.names import validate_name
from radio.errors import DeskError, InvalidNameError

PROTOCOL: Final[str] = "radio-desk/1"
"""The request and reply format this module speaks (JSON objects)."""

MAX_REQUEST_BYTES: Final[int] = 1024
"""Largest request a desk accepts (ZMQ_MAXMSGSIZE on its socket)."""

MAX_REPLY_BYTES: Final[int] = 64 * 1024
"""Largest reply a client accepts (ZMQ_MAXMSGSIZE on its socket)."""

JOIN: Final[str] = "join"
"""The one operation: give this client a fresh session, closing its previous one."""


class DeskAnswer(NamedTuple):
    """A desk's yes: where to listen (``endpoint``), on which ``channel`` and ``session``."""

    endpoint: str
    channel: str
    session: str


def encode_request(client: str) -> bytes:
    """A JOIN request for *client* (a valid name).

    ``{"protocol": "radio-desk/1", "op": "join", "client": "<name>"}``
    """
    return json.dumps({"protocol": PROTOCOL, "op": JOIN, "client": client}).encode("utf-8")


def parse_request(raw: bytes) -> str:
    """Return the client ID of a valid JOIN request; raise `DeskError` saying what is wrong.

    A request is a JSON object: ``{"protocol": "radio-desk/1", "op": "join",
    "client": "<name>"}``; the client ID follows the channel and session name rule.
    """
    try:
        request = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # deep nesting too
        raise DeskError(f"request is not JSON: {raw[:60]!r}") from None
    if not isinstance(request, dict):
        raise DeskError("request must be a JSON object")
    if request.get("protocol") != PROTOCOL:
        raise DeskError(f"unsupported protocol {request.get('protocol')!r} (this is {PROTOCOL})")
    if request.get("op") != JOIN:
        raise DeskError(f"unknown op {request.get('op')!r} (known: 'join')")
    try:
        return validate_name(request.get("client"), "client")
    except InvalidNameError as exc:
        raise DeskError(str(exc)) from None


def encode_reply(answer: DeskAnswer) -> bytes:
    """A yes: ``{"protocol": ..., "ok": true, "endpoint": ..., "channel": ..., "session": ...}``."""
    return json.dumps({"protocol": PROTOCOL, "ok": True, **answer._asdict()}).encode("utf-8")


def encode_refusal(error: str) -> bytes:
    """A no: ``{"protocol": ..., "ok": false, "error": "<why>"}``."""
    return json.dumps({"protocol": PROTOCOL, "ok": False, "error": error}).encode("utf-8")


def parse_reply(raw: bytes, desk: str) -> DeskAnswer:
    """The answer in the reply *raw* from the desk at *desk*; `DeskError` for a no or junk."""
    try:
        reply = json.loads(raw)
    except (ValueError, RecursionError):
        raise DeskError(f"the desk at {desk!r} answered something that is not JSON") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        error = reply.get("error") if isinstance(reply, dict) else None
        raise DeskError(f"the desk at {desk!r} refused: {error or 'no reason given'}")
    fields = [reply.get(key) for key in DeskAnswer._fields]
    if not all(isinstance(value, str) for value in fields):
        raise DeskError(f"the desk at {desk!r} sent an incomplete answer")
    return DeskAnswer(*(str(value) for value in fields))


MAX_DESK_CLIENTS: Final[int] = 10_000
"""Default most clients a desk keeps a session for; a new one beyond it is refused."""

MAX_EVICTION_SCAN: Final[int] = 64
"""Most clients looked at to make room in a full desk (a join stays O(1))."""


class DeskClients:
    """The desk's table of clients and the session each was given last; pure.

    It only keeps the table: the publisher's core (`radio.core.transmitter`)
    opens and closes the sessions. At most ``max_clients`` clients are kept;
    when the table is full, `evictable` names the least recently joined client
    whose session nobody listens to, so that a flood of made-up names cannot lock
    honest clients out.
    """

    def __init__(self, max_clients: int = MAX_DESK_CLIENTS) -> None:
        self.max_clients = max(1, max_clients)
        # client -> its session, least recently joined first (an OrderedDict: cheap to
        # move to the back and to scan from the front after many deletions)
        self._sessions: OrderedDict[str, str] = OrderedDict()
        self._clients: dict[str, str] = {}  # session -> client
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def full(self) -> bool:
        """Whether a newcomer needs a client evicted first."""
        return len(self._sessions) >= self.max_clients

    def session_of(self, client: str) -> str | None:
        """The session *client* was given last (open or not), or None."""
        return self._sessions.get(client)

    def add(self, client: str, session: str) -> None:
        """*client* was given *session*: it is now the most recently joined."""
        self._sessions[client] = session
        self._clients[session] = client

    def forget_client(self, client: str) -> str | None:
        """Take *client* out of the table; return the session it had, if any."""
        previous = self._sessions.pop(client, None)
        if previous is not None:
            self._clients.pop(previous, None)
        return previous

    def forget(self, session: str) -> None:
        """*session* was closed: its client, if it still has it, is forgotten."""
        client = self._clients.pop(session, None)
        if client is not None and self._sessions.get(client) == session:
            del self._sessions[client]

    def evictable(self, listened: Callable[[str], bool]) -> tuple[str, str]:
        """The client to make room with, and its session, taken out of the table.

        Looks at the `MAX_EVICTION_SCAN` least recently joined clients: the first
        whose session is not *listened* to goes; one that is listened to moves to
        the back. Raises `DeskError` when every one looked at is listened to.
        """
        for client, session in list(islice(self._sessions.items(), MAX_EVICTION_SCAN)):
            if listened(session):
                self._sessions.move_to_end(client)  # listened to: not scanned again soon
                continue
            del self._sessions[client]
            self._clients.pop(session, None)
            return client, session
        raise DeskError(f"the desk is full ({self.max_clients} clients, all listened to)")
