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

AUDIENCE_MARK: Final[bytes] = b"?"
"""Stands where a session name would in the channel's audience topic (``channel/?/``),
which carries the publisher's AUDIENCE frames: no name holds it, so no session's topic
and no radio subscriber's subscription matches it (only an observer subscribes)."""

MARKER: Final[bytes] = b"\x00"
"""Separates a topic from a subscriber's ID in its presence subscription.

Every radio subscriber subscribes, beside each topic T it hears, to
``T + MARKER + id``. No frame starts with that (a header's first byte, the version,
is never 0), so it carries no traffic; it only tells the publisher who listens.
Counting IDs rather than subscription events keeps counts right when a peer
subscribes twice to a topic (libzmq reports one unsubscription when it leaves),
and an unsubscription can only be forged by someone who knows the random ID."""

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


def audience_topic(channel: str) -> bytes:
    """Return the channel's audience topic: the publisher's listener counts, for observers."""
    return channel_prefix(channel) + AUDIENCE_MARK + TOPIC_DELIMITER


def new_session_id() -> str:
    """Return a fresh, unguessable session ID that is a valid name (16 characters)."""
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def inbox_topic(channel: str, listener_id: bytes) -> bytes:
    r"""The topic only *listener_id* subscribes to: ``\x00`` + ``channel/`` + ID + ``/``.

    It starts with a zero byte, which no name and no channel topic starts with:
    no subscription to a channel, a session or a channel's prefix matches it, so
    a frame sent there reaches that subscriber alone (and a raw SUB subscribed to
    everything, ``b""``, which nothing can keep out).
    """
    return MARKER + channel_prefix(channel) + listener_id + TOPIC_DELIMITER


def marker_topic(topic: bytes, listener_id: bytes) -> bytes:
    """The presence subscription of *listener_id* for *topic*."""
    return topic + MARKER + listener_id


TAG_SEPARATOR: Final[bytes] = b"."
"""Separates a subscriber's ID from the tag of one tune-in in a presence marker
(``ID.tag``): the publisher's HELLO names the tag, so an old HELLO is told apart."""


def split_listener(listener: bytes) -> tuple[bytes, bytes]:
    """``(ID, tag)`` of a presence marker's listener part (the tag may be empty)."""
    listener_id, _, tag = listener.partition(TAG_SEPARATOR)
    return listener_id, tag


def split_marker(subscription: bytes) -> tuple[bytes, bytes] | None:
    """``(topic, listener ID)`` of a presence subscription; None for any other one."""
    cut = subscription.find(MARKER)
    if cut <= 0 or cut == len(subscription) - 1:
        return None  # a plain subscription, or a marker without an ID
    return subscription[:cut], subscription[cut + 1 :]


def is_marker(subscription: bytes) -> bool:
    """Whether *subscription* is a presence subscription (a topic, `MARKER`, an ID)."""
    return split_marker(subscription) is not None


def is_channel_topic(topic: bytes) -> bool:
    """Whether *topic* is ``channel/session/`` or ``channel/!/``: not an inbox, not a prefix."""
    return (
        topic.count(TOPIC_DELIMITER) == 2
        and topic.endswith(TOPIC_DELIMITER)
        and MARKER not in topic
    )


def is_control_topic(topic: bytes) -> bool:
    """Whether *topic* is some channel's control topic (``channel/!/``)."""
    return is_channel_topic(topic) and topic.endswith(
        TOPIC_DELIMITER + CONTROL_MARK + TOPIC_DELIMITER
    )


def topic_session(topic: bytes) -> str:
    """The session name of a session topic ``channel/session/`` (undecodable bytes replaced)."""
    start = topic.index(TOPIC_DELIMITER) + 1
    return topic[start:-1].decode("ascii", "replace")


def leading_topic(frame: bytes, prefix_length: int) -> bytes:
    """The ``channel/session/`` topic *frame* starts with (``b""`` if none).

    *prefix_length* is the length of the channel's prefix; the session name must
    end within a name's length after it.
    """
    end = frame.find(TOPIC_DELIMITER, prefix_length, prefix_length + MAX_NAME_LENGTH + 1)
    return frame[: end + 1] if end > 0 else b""
