"""Channel and session names: the naming rule, topic building and session IDs."""

from __future__ import annotations

import re
import secrets
from typing import Final

from radio.errors import InvalidNameError

MAX_NAME_LENGTH: Final[int] = 128
"""Longest channel or session name, in characters."""

NAME_ALPHABET: Final[str] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:"
"""Every character a channel or session name may use."""

TOPIC_DELIMITER: Final[bytes] = b"/"
"""Ends each part of a topic. It cannot occur inside a name, so no topic is a
byte-prefix of another one (ZeroMQ matches subscriptions by prefix)."""

CONTROL_MARK: Final[bytes] = b"!"
"""Stands where a session name would in the channel's control topic; it cannot
occur inside a name, so the control topic never collides with a session's."""

SESSION_ID_BYTES: Final[int] = 12
"""Random bytes in a generated session ID (96 bits: unguessable and unique)."""

_NAME_RE: Final = re.compile(rf"[A-Za-z0-9_.:\-]{{1,{MAX_NAME_LENGTH}}}")


def validate_name(value: object, kind: str = "name") -> str:
    """Return *value* if it is a valid channel or session name, else raise.

    A name is 1 to 128 characters of ASCII letters, digits, ``-``, ``_``, ``.``
    and ``:``. Anything else could be confused with a topic delimiter or make one
    topic a byte-prefix of another, which would let a subscriber hear a session
    it did not tune in to. *kind* ("channel", "session") names the value in the
    error message.
    """
    if not isinstance(value, str):
        raise InvalidNameError(
            f"{kind} name must be a string, not {type(value).__name__}: {value!r}"
        )
    if _NAME_RE.fullmatch(value) is None:
        if not value:
            reason = "it is empty"
        elif len(value) > MAX_NAME_LENGTH:
            reason = f"it is {len(value)} characters long (at most {MAX_NAME_LENGTH})"
        else:
            bad = next(c for c in value if c not in NAME_ALPHABET)
            reason = f"{bad!r} is not allowed (use letters, digits, '-', '_', '.', ':')"
        raise InvalidNameError(f"invalid {kind} name {value!r}: {reason}")
    return value


def channel_prefix(channel: str) -> bytes:
    """Return the prefix shared by every topic of *channel*: ``b"<channel>/"``."""
    return channel.encode("ascii") + TOPIC_DELIMITER


def session_topic(channel: str, session: str) -> bytes:
    """Return the topic of *session* on *channel*: ``b"<channel>/<session>/"``."""
    return channel_prefix(channel) + session.encode("ascii") + TOPIC_DELIMITER


def control_topic(channel: str) -> bytes:
    """Return the channel's control topic (session openings, closings, beacons)."""
    return channel_prefix(channel) + CONTROL_MARK + TOPIC_DELIMITER


def new_session_id() -> str:
    """Return a fresh, unguessable session ID that is a valid name (16 characters)."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)
