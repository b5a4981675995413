"""Listener bookkeeping: pure state fed by XPUB subscription events, clock-injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, NamedTuple

SUBSCRIBE: Final[int] = 1
UNSUBSCRIBE: Final[int] = 0

MARKER: Final[bytes] = b"\x00"
"""Separates a topic from a subscriber's ID in its presence subscription.

Every radio subscriber subscribes, beside each topic T it hears, to
``T + MARKER + id``. No frame starts with that (a header's first byte, the version,
is never 0), so it carries no traffic; it only tells the publisher who listens.
Counting IDs rather than subscription events keeps counts right when a peer
subscribes twice to a topic (libzmq reports one unsubscription when it leaves),
and an unsubscription can only be forged by someone who knows the random ID."""


def inbox_topic(channel: str, listener_id: bytes) -> bytes:
    r"""The topic only *listener_id* subscribes to: ``channel/`` + ``\x00`` + ID + ``/``.

    No other subscription is a prefix of it (a name never starts with a zero
    byte), so a frame sent there reaches that subscriber alone.
    """
    return channel.encode("ascii") + b"/" + MARKER + listener_id + b"/"


def marker_topic(topic: bytes, listener_id: bytes) -> bytes:
    """The presence subscription of *listener_id* for *topic*."""
    return topic + MARKER + listener_id


class Change(NamedTuple):
    """A listener joined (``joined``) or left a topic, leaving ``listeners`` on it."""

    topic: bytes
    joined: bool
    listeners: int
    at: float
    listener: bytes = b""


class ListenerEvent(NamedTuple):
    """A subscriber tuned in to (``joined``) or out of *session*; ``listeners`` now."""

    session: str
    joined: bool
    listeners: int
    at: float


class Presence:
    r"""Counts the radio subscribers of each topic from XPUB_VERBOSER events.

    With ``XPUB_VERBOSER`` every subscription and every unsubscription (including
    the ones libzmq makes up when a subscriber's connection ends) arrives as a
    message ``b"\x01" + topic`` or ``b"\x00" + topic``. Only presence
    subscriptions (`MARKER`) count, one per subscriber ID; plain subscriptions
    route messages and count nobody.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._listeners: dict[bytes, set[bytes]] = {}

    def apply(self, event: bytes) -> Change | None:
        """Apply one XPUB event; return the change it made, or None for a no-op."""
        if len(event) < 2 or event[0] not in (SUBSCRIBE, UNSUBSCRIBE):
            return None
        cut = event.find(MARKER, 1)
        if cut < 0 or cut == len(event) - 1:
            return None  # a plain subscription, or a marker without an ID
        topic, listener = event[1:cut], event[cut + 1 :]
        if topic.count(b"/") < 2:
            return None  # not channel/session/: e.g. a subscriber's inbox
        ids = self._listeners.get(topic)
        joined = event[0] == SUBSCRIBE
        if joined:
            if ids is None:
                ids = self._listeners[topic] = set()
            elif listener in ids:
                return None
            ids.add(listener)
        else:
            if ids is None or listener not in ids:
                return None
            ids.remove(listener)
            if not ids:
                del self._listeners[topic]
        return Change(topic, joined, len(ids), self._clock(), listener)

    def count(self, topic: bytes) -> int:
        """Return how many radio subscribers are subscribed to *topic* now."""
        ids = self._listeners.get(topic)
        return len(ids) if ids else 0

    def topics(self) -> dict[bytes, int]:
        """Return every topic with at least one listener, and how many."""
        items = list(self._listeners.items())  # one C-level copy: safe to call from any thread
        return {topic: len(ids) for topic, ids in items}
