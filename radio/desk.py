"""The session desk's request and reply format: pure JSON encoding and checking, no I/O."""

from __future__ import annotations

import json
from typing import Final, NamedTuple

from radio.errors import DeskError, InvalidNameError
from radio.names import validate_name

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
