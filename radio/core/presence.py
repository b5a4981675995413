"""Listener bookkeeping: pure state fed by XPUB subscription events, clock-injected."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from itertools import islice
from typing import Final, NamedTuple

from radio.core.names import is_channel_topic, marker_topic, split_marker

SUBSCRIBE: Final[int] = 1
UNSUBSCRIBE: Final[int] = 0

MAX_LISTENERS: Final[int] = 100_000
"""Default most (topic, listener) pairs tracked: a flood of forged presence
subscriptions costs bounded memory; the excess is refused and counted."""

MAX_LISTENERS_PER_KEY: Final[int] = 10_000
"""Default most pairs one authenticated key (CURVE) may hold, so that one allowed
peer's flood cannot fill the whole cap (without CURVE, peers cannot be told apart).
A declared relay's key (`Presence.relays`) is held to the total cap only: the relay
applies this share to each of its own clients' keys before it forwards their joins."""

_OWNER_END: Final[bytes] = b"\x00"  # between owner and ID in a key: in neither of them
_TOPIC_END: Final[bytes] = b"\x01"  # between topic and key of a waiting join: in no topic


class Change(NamedTuple):
    """A listener joined (``joined``) or left a topic, leaving ``listeners`` on it."""

    topic: bytes
    joined: bool
    listeners: int
    at: float
    listener: bytes = b""
    owner: bytes = b""


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
    subscriptions (`radio.core.names.MARKER`) count, one per subscriber ID; plain subscriptions
    route messages and count nobody.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        max_listeners: int = MAX_LISTENERS,
        max_per_key: int = MAX_LISTENERS_PER_KEY,
    ) -> None:
        self._clock = clock
        # topic -> {owner + 0 + listener ID}: bytes, which the garbage collector never scans
        self._listeners: dict[bytes, set[bytes]] = {}
        self._per_owner: dict[bytes, int] = {}
        self.max_listeners = max_listeners
        self.max_per_key = max_per_key
        self.size = 0  # (topic, listener) pairs tracked
        # Keys of declared relays: each speaks for many keys, and holds no per-key share.
        self.relays: frozenset[bytes] = frozenset()
        self.refused = 0  # joins refused at a cap
        # Refused joins still subscribed (topic + 1 + key), oldest first: admitted as room
        # frees, since libzmq reports a subscription once. Bounded like the tracked ones.
        # An OrderedDict: a plain dict used as a queue slows down as its head is deleted.
        self._waiting: OrderedDict[bytes, None] = OrderedDict()
        # topic + 1 + ID -> the keys holding or waiting for it, in join order (CURVE only):
        # libzmq's own leave when a connection ends carries no key; it is the latest one's.
        self._keyed: dict[bytes, list[bytes]] = {}

    def apply(self, event: bytes, owner: bytes = b"") -> Change | None:
        """Apply one XPUB event; return the change it made, or None for a no-op.

        *owner* is the authenticated key of the peer that sent it (CURVE's
        ``User-Id``; empty without CURVE): a listener is the pair of its owner and
        its ID, so no peer adds or removes a listener of another key.
        """
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
        pair = topic + _TOPIC_END + listener
        if not owner and not joined and pair in self._keyed:
            # No key: libzmq's own leave for a connection that ended (it carries no
            # User-Id). It is that connection's: the latest key to have joined it.
            owner = self._keyed[pair][-1]
        key = owner + _OWNER_END + listener
        held = self._per_owner.get(owner, 0)
        if joined:
            if ids is not None and key in ids:
                return None
            if self.size >= self.max_listeners or (
                owner and held >= self.max_per_key and owner not in self.relays
            ):
                self.refused += 1
                waiting = topic + _TOPIC_END + key
                if waiting not in self._waiting:
                    self._waiting[waiting] = None
                    self._hold(pair, owner)
                if len(self._waiting) > self.max_listeners:
                    dropped = self._waiting.popitem(last=False)[0]
                    self._unhold(dropped)
                return None
            if ids is None:
                ids = self._listeners[topic] = set()
            ids.add(key)
            self.size += 1
            self._per_owner[owner] = held + 1
            self._hold(pair, owner)
        else:
            if ids is None or key not in ids:
                waiting = topic + _TOPIC_END + key
                if waiting in self._waiting:
                    del self._waiting[waiting]
                    self._unhold(waiting)
                return None
            ids.remove(key)
            self.size -= 1
            self._unhold(topic + _TOPIC_END + key)
            if held > 1:
                self._per_owner[owner] = held - 1
            else:
                del self._per_owner[owner]
            if not ids:
                del self._listeners[topic]
        return Change(topic, joined, len(ids), self._clock(), listener, owner)

    def _hold(self, pair: bytes, owner: bytes) -> None:
        """Note that *owner* holds or waits for *pair* (topic + 1 + ID), keys only."""
        if owner:
            self._keyed.setdefault(pair, []).append(owner)

    def _unhold(self, entry: bytes) -> None:
        """Forget one hold of entry (topic + 1 + owner + 0 + ID) in the keyed index."""
        topic, _, key = entry.partition(_TOPIC_END)
        owner, _, listener = key.partition(_OWNER_END)
        pair = topic + _TOPIC_END + listener
        owners = self._keyed.get(pair)
        if owners is None or owner not in owners:
            return
        owners.reverse()  # the latest hold goes first
        owners.remove(owner)
        owners.reverse()
        if not owners:
            del self._keyed[pair]

    def count(self, topic: bytes) -> int:
        """Return how many radio subscribers are subscribed to *topic* now."""
        ids = self._listeners.get(topic)
        return len(ids) if ids else 0

    def admit(self) -> Change | None:
        """Admit the oldest refused join that fits now (room freed); None if none does."""
        for waiting in list(islice(self._waiting, 16)):  # a capped key must not block others
            topic, _, key = waiting.partition(_TOPIC_END)
            owner, _, listener = key.partition(_OWNER_END)
            if self.size >= self.max_listeners:
                return None
            if (
                owner
                and self._per_owner.get(owner, 0) >= self.max_per_key
                and owner not in self.relays
            ):
                continue
            del self._waiting[waiting]
            self._unhold(waiting)
            return self.apply(bytes((SUBSCRIBE,)) + marker_topic(topic, listener), owner)
        return None

    def forward(self, event: bytes, owner: bytes = b"") -> list[bytes]:
        """What a relay sends upstream for one event from its downstream XPUB.

        A relay applies the presence caps itself, per key of its own clients
        (*owner*), before anything goes upstream: a presence join is forwarded only
        if it counts here, and its leave only if it did; a refused join goes up
        once room frees (after a leave of the same share). Any other event (a
        plain subscription, which routes messages, or a non-presence one) goes
        up as it is.
        """
        marker = split_marker(event[1:]) if event[:1] in (b"\x00", b"\x01") else None
        if marker is None or not is_channel_topic(marker[0]):
            return [event]
        change = self.apply(event, owner)
        if change is None:
            return []
        sent = [event]
        if not change.joined:
            while (admitted := self.admit()) is not None:
                sent.append(bytes((SUBSCRIBE,)) + marker_topic(admitted.topic, admitted.listener))
        return sent

    def owners(self, topic: bytes) -> dict[bytes, int]:
        """How many listeners of *topic* each owner (authenticated key) has now."""
        counts: dict[bytes, int] = {}
        for key in list(self._listeners.get(topic, ())):
            owner = key.partition(_OWNER_END)[0]
            counts[owner] = counts.get(owner, 0) + 1
        return counts

    def topics(self) -> dict[bytes, int]:
        """Return every topic with at least one listener, and how many."""
        items = list(self._listeners.items())  # one C-level copy: safe to call from any thread
        return {topic: len(ids) for topic, ids in items}
