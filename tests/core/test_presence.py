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
