"""Listener bookkeeping: pure state fed by XPUB subscription events, clock-injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final, NamedTuple

from radio.names import is_channel_topic, split_marker

SUBSCRIBE: Final[int] = 1
UNSUBSCRIBE: Final[int] = 0


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
    subscriptions (`radio.names.MARKER`) count, one per subscriber ID; plain subscriptions
    route messages and count nobody.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._listeners: dict[bytes, set[bytes]] = {}

    def apply(self, event: bytes) -> Change | None:
        """Apply one XPUB event; return the change it made, or None for a no-op."""
        if len(event) < 2 or event[0] not in (SUBSCRIBE, UNSUBSCRIBE):
            return None
        marker = split_marker(event[1:])
        if marker is None:
            return None  # a plain subscription: it routes messages, counts nobody
        topic, listener = marker
        if not is_channel_topic(topic):
            return None  # not channel/session/ or channel/!/: e.g. a subscriber's inbox
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
