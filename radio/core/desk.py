"""The session desk without sockets: its request and reply format, and its table of clients."""

from __future__ import annotations

import json
from collections import OrderedDict
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

MAX_DESK_CLIENTS_PER_KEY: Final[int] = 1000
"""Default most clients one peer holds at the desk: its authenticated key with CURVE,
its connection without (never more than half the desk, see `DeskClients`)."""


class DeskClients:
    """The desk's table of clients and the session each was given last; pure.

    It only keeps the table: the publisher's core (`radio.core.transmitter`)
    opens and closes the sessions and says when a session gains its first
    listener or loses its last (`heard`). At most ``max_clients`` clients are
    kept, and at most ``max_per_owner`` of them (never more than half the
    table) joined by one owner: the peer that asked (its CURVE key, or its
    connection; an empty owner, a caller that names none, has no quota). A
    newcomer beyond its owner's quota evicts that owner's client unlistened the
    longest; a newcomer to a full table evicts the client unlistened the
    longest, whoever joined it. Unlistened clients are kept in
    their own queues (one per owner too), so either costs O(1), and every
    unlistened client can be evicted: a newcomer is refused only when every
    client (of its owner, or of the table) is listened to.
    """

    def __init__(
        self, max_clients: int = MAX_DESK_CLIENTS, max_per_owner: int = MAX_DESK_CLIENTS_PER_KEY
    ) -> None:
        self.max_clients = max(1, max_clients)
        # so that one peer can never fill the table alone
        self.max_per_owner = max(1, min(max_per_owner, self.max_clients // 2))
        # Plain dicts of strings and bytes, which the garbage collector never scans.
        self._sessions: dict[str, str] = {}  # client -> its session
        self._owners: dict[str, bytes] = {}  # client -> the peer that joined it
        self._clients: dict[str, str] = {}  # session -> client
        # Clients nobody listens to, unlistened the longest first: in the whole table, and
        # per owner (OrderedDicts: cheap to pop from the front after many deletions).
        self._unlistened: OrderedDict[str, None] = OrderedDict()
        self._owner_unlistened: dict[bytes, OrderedDict[str, None]] = {}
        self._owned: dict[bytes, int] = {}  # owner -> how many clients it holds
        self.evicted = 0
        self.joined = 0  # requests answered with a session (counted by the transmitter)
        self.refused = 0  # requests answered with a refusal (idem)

    def __len__(self) -> int:
        return len(self._sessions)

    @property
    def full(self) -> bool:
        """Whether a newcomer needs a client evicted first."""
        return len(self._sessions) >= self.max_clients

    def session_of(self, client: str) -> str | None:
        """The session *client* was given last (open or not), or None."""
        return self._sessions.get(client)

    def held(self, owner: bytes) -> int:
        """How many clients *owner* holds at the desk."""
        return self._owned.get(owner, 0)

    def unlistened(self) -> int:
        """How many clients' sessions nobody listens to."""
        return len(self._unlistened)

    def add(self, client: str, session: str, owner: bytes = b"", listened: bool = False) -> None:
        """*client*, not in the table, was given *session* at *owner*'s request."""
        self._sessions[client] = session
        self._owners[client] = owner
        self._clients[session] = client
        self._owned[owner] = self._owned.get(owner, 0) + 1
        if not listened:
            self._queue(client, owner)

    def forget_client(self, client: str) -> str | None:
        """Take *client* out of the table; return the session it had, if any."""
        session = self._sessions.pop(client, None)
        if session is None:
            return None
        owner = self._owners.pop(client)
        del self._clients[session]
        held = self._owned[owner] - 1
        if held:
            self._owned[owner] = held
        else:
            del self._owned[owner]
        if client in self._unlistened:
            self._unqueue(client, owner)
        return session

    def forget(self, session: str) -> None:
        """*session* was closed: its client, if it still has it, is forgotten."""
        client = self._clients.get(session)
        if client is not None:
            self.forget_client(client)

    def heard(self, session: str, listened: bool) -> None:
        """*session* gained its first listener (*listened*) or lost its last one."""
        client = self._clients.get(session)
        if client is None or listened != (client in self._unlistened):
            return  # not a desk client's, or no change
        if listened:
            self._unqueue(client, self._owners[client])
        else:
            self._queue(client, self._owners[client])  # unlistened from now: the newest

    def make_room(self, client: str, owner: bytes) -> tuple[str, str] | None:
        """Room for *client* to join at *owner*'s request, in O(1).

        Returns None when nothing needs to go, else the client evicted for it and
        its session (taken out of the table). Raises `DeskError` when *owner* holds
        its quota, or the table is full, and every such client is listened to.
        """
        known = self._owners.get(client)
        if known == owner:
            return None  # it joins again: takes the place it frees
        if owner and self.held(owner) >= self.max_per_owner:
            queue = self._owner_unlistened.get(owner)
            if not queue:
                raise DeskError(
                    f"this peer holds its quota of {self.max_per_owner} desk clients, "
                    "all listened to"
                )
            return self._evict(next(iter(queue)))
        if known is None and self.full:
            if not self._unlistened:
                raise DeskError(f"the desk is full ({self.max_clients} clients, all listened to)")
            return self._evict(next(iter(self._unlistened)))
        return None  # a client joined by another peer frees its place: no need

    def _evict(self, client: str) -> tuple[str, str]:
        session = self.forget_client(client)
        assert session is not None
        return client, session

    def _queue(self, client: str, owner: bytes) -> None:
        self._unlistened[client] = None
        queue = self._owner_unlistened.get(owner)
        if queue is None:
            queue = self._owner_unlistened[owner] = OrderedDict()
        queue[client] = None

    def _unqueue(self, client: str, owner: bytes) -> None:
        del self._unlistened[client]
        queue = self._owner_unlistened[owner]
        del queue[client]
        if not queue:
            del self._owner_unlistened[owner]
