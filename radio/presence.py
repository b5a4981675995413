"""Listener bookkeeping: pure state fed by XPUB subscription events, clock-injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

SUBSCRIBE: int = 1
UNSUBSCRIBE: int = 0


class Change(NamedTuple):
    """A listener joined (``joined``) or left a topic, leaving ``count`` on it."""

    topic: bytes
    joined: bool
    listeners: int
    at: float


class ListenerEvent(NamedTuple):
    """A subscriber tuned in to (``joined``) or out of *session*; ``listeners`` now."""

    session: str
    joined: bool
    listeners: int
    at: float


class Presence:
    r"""Counts the subscribers of each topic from XPUB_VERBOSER events.

    With ``XPUB_VERBOSER`` every subscription and every unsubscription (including
    the ones libzmq makes up when a subscriber's connection ends) arrives as a
    message ``b"\x01" + topic`` or ``b"\x00" + topic``. Counts never go below
    zero: an unsubscription nobody subscribed for is ignored.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[bytes, int] = {}

    def apply(self, event: bytes) -> Change | None:
        """Apply one XPUB event; return the change it made, or None for a no-op."""
        if not event or event[0] not in (SUBSCRIBE, UNSUBSCRIBE):
            return None
        topic = event[1:]
        count = self._counts.get(topic, 0)
        joined = event[0] == SUBSCRIBE
        if joined:
            count += 1
        elif count == 0:
            return None
        else:
            count -= 1
        if count:
            self._counts[topic] = count
        else:
            self._counts.pop(topic, None)
        return Change(topic, joined, count, self._clock())

    def count(self, topic: bytes) -> int:
        """Return how many subscribers are subscribed to *topic* now."""
        return self._counts.get(topic, 0)

    def topics(self) -> dict[bytes, int]:
        """Return a copy of every topic with at least one subscriber, and its count."""
        return dict(self._counts)
