"""The session desk: a client asks for a session and gets a fresh one, its old one closed."""

from __future__ import annotations

import json
from typing import Any, Final

import zmq

from radio.errors import DeskError, InvalidNameError
from radio.names import validate_name
from radio.security import CurveClient, apply_client
from radio.settings import to_ms

PROTOCOL: Final[str] = "radio-desk/1"
"""The request and reply format this module speaks (JSON objects)."""

MAX_REQUEST_BYTES: Final[int] = 1024
"""Largest request the desk accepts (ZMQ_MAXMSGSIZE on its socket)."""

MAX_DESK_REPLY_BYTES: Final[int] = 64 * 1024
"""Largest reply a client accepts (ZMQ_MAXMSGSIZE on its socket)."""

DESK_HWM: Final[int] = 1000
"""Requests queued at the desk (its RCVHWM) before new ones are dropped."""

MAX_DESK_CLIENTS: Final[int] = 10_000
"""Default most clients a desk keeps a session for; a new one beyond it is refused."""

MAX_ENVELOPE_FRAMES: Final[int] = 3
"""Most frames a request may have (identity, delimiter, request); more are discarded."""

MAX_REQUESTS_PER_PASS: Final[int] = 100
"""Most requests answered while holding the publisher's lock at a time."""

REQUEST_TIMEOUT_S: Final[float] = 5.0
"""Default time a client waits for the desk's answer."""


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
    if request.get("op") != "join":
        raise DeskError(f"unknown op {request.get('op')!r} (known: 'join')")
    try:
        return validate_name(request.get("client"), "client")
    except InvalidNameError as exc:
        raise DeskError(str(exc)) from None


def reply(**fields: Any) -> bytes:
    """Encode a reply: ``{"protocol": ..., "ok": true, ...}`` or ``{"ok": false, "error": ...}``."""
    return json.dumps({"protocol": PROTOCOL, **fields}).encode("utf-8")


def ask(
    desk: str,
    client: str,
    timeout: float = REQUEST_TIMEOUT_S,
    security: CurveClient | None = None,
) -> dict[str, str]:
    """Ask the desk at *desk* for a fresh session for *client*; return the reply's fields.

    The reply names ``endpoint``, ``channel`` and ``session``. Raises `DeskError`
    when the desk refuses or does not answer within *timeout* seconds. With
    *security* the request goes over CURVE (the desk uses the publisher's keys).
    """
    validate_name(client, "client")
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    try:
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, to_ms(timeout))
        sock.setsockopt(zmq.MAXMSGSIZE, MAX_DESK_REPLY_BYTES)
        if security is not None:
            apply_client(sock, security)
        sock.connect(desk)
        sock.send(json.dumps({"protocol": PROTOCOL, "op": "join", "client": client}).encode())
        try:
            raw = sock.recv()
        except zmq.Again:
            raise DeskError(f"no answer from the desk at {desk!r} within {timeout:g} s") from None
    finally:
        sock.close(linger=0)
    try:
        answer = json.loads(raw)
    except (ValueError, RecursionError):
        raise DeskError(f"the desk at {desk!r} answered something that is not JSON") from None
    if not isinstance(answer, dict) or not answer.get("ok"):
        error = answer.get("error") if isinstance(answer, dict) else None
        raise DeskError(f"the desk at {desk!r} refused: {error or 'no reason given'}")
    fields = {key: answer.get(key) for key in ("endpoint", "channel", "session")}
    if not all(isinstance(value, str) for value in fields.values()):
        raise DeskError(f"the desk at {desk!r} sent an incomplete answer")
    return {key: str(value) for key, value in fields.items()}
