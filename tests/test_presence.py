"""Presence: listener counts from XPUB_VERBOSER events, with an injected clock."""

from __future__ import annotations

from radio.presence import Change, Presence


def clock() -> float:
    return 42.0


def test_subscribe_and_unsubscribe_count_listeners_per_topic() -> None:
    """Each subscription adds a listener to its topic; each unsubscription removes one."""
    presence = Presence(clock)
    assert presence.apply(b"\x01c/s1/") == Change(b"c/s1/", True, 1, 42.0)
    assert presence.apply(b"\x01c/s1/") == Change(b"c/s1/", True, 2, 42.0)
    assert presence.apply(b"\x01c/s2/") == Change(b"c/s2/", True, 1, 42.0)
    assert presence.apply(b"\x00c/s1/") == Change(b"c/s1/", False, 1, 42.0)
    assert presence.count(b"c/s1/") == 1
    assert presence.count(b"c/s2/") == 1
    assert presence.topics() == {b"c/s1/": 1, b"c/s2/": 1}


def test_counts_never_go_below_zero() -> None:
    """An unsubscription nobody subscribed for changes nothing."""
    presence = Presence(clock)
    assert presence.apply(b"\x00c/s1/") is None
    assert presence.count(b"c/s1/") == 0


def test_a_topic_with_no_listener_is_forgotten() -> None:
    """Memory stays bounded by the topics listened to now."""
    presence = Presence(clock)
    presence.apply(b"\x01c/s1/")
    presence.apply(b"\x00c/s1/")
    assert presence.topics() == {}


def test_events_that_are_not_subscriptions_are_ignored() -> None:
    """Empty frames or other first bytes are no-ops, never errors."""
    presence = Presence(clock)
    assert presence.apply(b"") is None
    assert presence.apply(b"\x02c/s1/") is None
    assert presence.topics() == {}
