"""Presence: listener counts from XPUB_VERBOSER events, one per subscriber ID."""

from __future__ import annotations

from radio.core.names import marker_topic
from radio.core.presence import Change, Presence


def clock() -> float:
    return 42.0


def sub(topic: bytes, listener: bytes) -> bytes:
    return b"\x01" + marker_topic(topic, listener)


def unsub(topic: bytes, listener: bytes) -> bytes:
    return b"\x00" + marker_topic(topic, listener)


def test_presence_subscriptions_count_listeners_per_topic() -> None:
    """Each subscriber ID counts once per topic; its unsubscription removes it."""
    presence = Presence(clock)
    assert presence.apply(sub(b"c/s1/", b"a")) == Change(b"c/s1/", True, 1, 42.0, b"a")
    assert presence.apply(sub(b"c/s1/", b"b")) == Change(b"c/s1/", True, 2, 42.0, b"b")
    assert presence.apply(sub(b"c/s2/", b"a")) == Change(b"c/s2/", True, 1, 42.0, b"a")
    assert presence.apply(unsub(b"c/s1/", b"a")) == Change(b"c/s1/", False, 1, 42.0, b"a")
    assert presence.count(b"c/s1/") == 1
    assert presence.count(b"c/s2/") == 1
    assert presence.topics() == {b"c/s1/": 1, b"c/s2/": 1}


def test_a_duplicate_subscription_counts_once_and_leaves_once() -> None:
    """libzmq reports one unsubscription per topic when a peer leaves: no phantom stays."""
    presence = Presence(clock)
    presence.apply(sub(b"c/s1/", b"a"))
    assert presence.apply(sub(b"c/s1/", b"a")) is None
    presence.apply(unsub(b"c/s1/", b"a"))
    assert presence.count(b"c/s1/") == 0


def test_plain_subscriptions_count_nobody() -> None:
    """A raw SUB routes messages to itself but is not a radio listener."""
    presence = Presence(clock)
    assert presence.apply(b"\x01c/s1/") is None
    assert presence.apply(b"\x01c/s1/") is None
    assert presence.count(b"c/s1/") == 0


def test_unsubscriptions_of_unknown_ids_change_nothing() -> None:
    """Forging a leave needs the listener's random ID."""
    presence = Presence(clock)
    presence.apply(sub(b"c/s1/", b"a"))
    assert presence.apply(unsub(b"c/s1/", b"forged")) is None
    assert presence.apply(b"\x00c/s1/") is None
    assert presence.count(b"c/s1/") == 1


def test_a_topic_with_no_listener_is_forgotten() -> None:
    """Memory stays bounded by the listeners there are now."""
    presence = Presence(clock)
    presence.apply(sub(b"c/s1/", b"a"))
    presence.apply(unsub(b"c/s1/", b"a"))
    assert presence.topics() == {}


def test_events_that_are_not_subscriptions_are_ignored() -> None:
    """Empty frames, other first bytes and empty IDs are no-ops, never errors."""
    presence = Presence(clock)
    for event in (b"", b"\x01", b"\x02c/s1/\x00a", b"\x01c/s1/\x00"):
        assert presence.apply(event) is None
    assert presence.topics() == {}


def test_one_key_cannot_fill_the_cap_and_keys_are_kept_apart() -> None:
    """Under CURVE each key holds at most max_per_key listeners; another key's joins
    still count, and a key cannot remove a listener of another key with the same ID."""
    presence = Presence(clock, max_listeners=10, max_per_key=2)
    for listener in (b"a", b"b", b"c"):
        presence.apply(sub(b"c/s1/", listener), owner=b"KEY1")
    assert presence.count(b"c/s1/") == 2
    assert presence.refused == 1
    assert presence.apply(sub(b"c/s1/", b"a"), owner=b"KEY2") is not None
    assert presence.apply(unsub(b"c/s1/", b"a"), owner=b"KEY2") is not None
    assert presence.owners(b"c/s1/") == {b"KEY1": 2}


def test_a_join_refused_at_the_cap_is_admitted_once_room_frees() -> None:
    """libzmq reports a subscription once: a refused join waits and gets in later;
    one that left meanwhile does not."""
    presence = Presence(clock, max_listeners=1)
    presence.apply(sub(b"c/s1/", b"first"))
    assert presence.apply(sub(b"c/s1/", b"gone")) is None
    assert presence.apply(sub(b"c/s1/", b"waiting")) is None
    presence.apply(unsub(b"c/s1/", b"gone"))  # left while waiting: forgotten
    assert presence.admit() is None  # no room yet
    presence.apply(unsub(b"c/s1/", b"first"))
    admitted = presence.admit()
    assert admitted is not None
    assert (admitted.listener, admitted.joined) == (b"waiting", True)
    assert presence.count(b"c/s1/") == 1


def test_a_declared_relay_key_is_held_to_the_total_cap_only() -> None:
    """A relay speaks for many keys: a key in ``relays`` holds more than max_per_key
    listeners (up to max_listeners), a key that is not stays at its share, and a
    refused join of a relay's key is admitted as soon as the total has room."""
    presence = Presence(clock, max_listeners=5, max_per_key=2)
    presence.relays = frozenset({b"RELAY"})
    for listener in (b"a", b"b", b"c", b"d"):
        presence.apply(sub(b"c/s1/", listener), owner=b"RELAY")
        presence.apply(sub(b"c/s1/", listener), owner=b"KEY")
    assert presence.owners(b"c/s1/") == {b"RELAY": 3, b"KEY": 2}  # the total cap: 5
    presence.apply(unsub(b"c/s1/", b"a"), owner=b"KEY")
    admitted = presence.admit()  # the oldest waiting: KEY's c, back within its share
    assert admitted is not None
    assert (admitted.owner, admitted.listener) == (b"KEY", b"c")
    presence.apply(unsub(b"c/s1/", b"a"), owner=b"RELAY")
    admitted = presence.admit()  # KEY's d stays out: KEY holds its share
    assert admitted is not None
    assert (admitted.owner, admitted.listener) == (b"RELAY", b"d")
    assert presence.owners(b"c/s1/") == {b"RELAY": 3, b"KEY": 2}


def test_a_relay_forwards_a_presence_join_only_within_its_share() -> None:
    """Presence.forward, a relay's decision: plain subscriptions and other events go up
    as they are; a presence join goes up only if it counts, its leave only if it went
    up; a refused join goes up once a leave makes room in its key's share."""
    presence = Presence(clock, max_listeners=10, max_per_key=2)
    plain = b"\x01c/s1/"
    assert presence.forward(plain, b"KEY") == [plain]
    assert presence.forward(b"\x02junk", b"KEY") == [b"\x02junk"]
    inbox = b"\x01" + marker_topic(b"\x00inbox", b"a")
    assert presence.forward(inbox, b"KEY") == [inbox]
    assert presence.forward(sub(b"c/s1/", b"a"), b"KEY") == [sub(b"c/s1/", b"a")]
    assert presence.forward(sub(b"c/s1/", b"b"), b"KEY") == [sub(b"c/s1/", b"b")]
    assert presence.forward(sub(b"c/s1/", b"c"), b"KEY") == []  # over its share
    assert presence.forward(sub(b"c/s1/", b"d"), b"KEY") == []
    assert presence.forward(sub(b"c/s1/", b"x"), b"OTHER") == [sub(b"c/s1/", b"x")]
    assert presence.forward(unsub(b"c/s1/", b"d"), b"KEY") == []  # never went up
    assert presence.forward(unsub(b"c/s1/", b"a"), b"KEY") == [
        unsub(b"c/s1/", b"a"),
        sub(b"c/s1/", b"c"),  # the refused join, now within the share
    ]
    assert presence.owners(b"c/s1/") == {b"KEY": 2, b"OTHER": 1}


def test_libzmqs_keyless_leave_removes_the_latest_key_holding_the_listener() -> None:
    """Under CURVE, the leaves libzmq makes up when a connection ends carry no key.
    Such a leave removes the pair of the latest key that joined (held or waiting), so a
    killed subscriber stops being counted and a refused join of a gone peer is never
    admitted later; without any key (no CURVE) nothing changes."""
    presence = Presence(clock, max_listeners=10, max_per_key=1)
    presence.apply(sub(b"c/s1/", b"a"), owner=b"A")
    presence.apply(sub(b"c/s1/", b"a"), owner=b"B")  # a leaked ID, joined later
    presence.apply(sub(b"c/s1/", b"b"), owner=b"B")  # refused: over B's share, waits
    assert presence.apply(unsub(b"c/s1/", b"b")) is None  # B's connection ended
    left = presence.apply(unsub(b"c/s1/", b"a"))
    assert left is not None
    assert (left.owner, left.joined) == (b"B", False)
    assert presence.admit() is None  # B's waiting join went with its connection
    assert presence.owners(b"c/s1/") == {b"A": 1}
    left = presence.apply(unsub(b"c/s1/", b"a"))
    assert left is not None
    assert left.owner == b"A"
    assert presence.size == 0
    assert presence.apply(unsub(b"c/s1/", b"a")) is None
