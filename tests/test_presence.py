"""Presence: listener counts from XPUB_VERBOSER events, one per subscriber ID."""

from __future__ import annotations

from radio.names import marker_topic
from radio.presence import Change, Presence


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
