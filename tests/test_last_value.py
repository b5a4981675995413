"""Last value on tune-in: a late subscriber gets the latest message at once, alone."""

from __future__ import annotations

import time

from radio import Publisher, Subscriber
from tests.conftest import DEADLINE_S, drain, recv_all, wait_until


def test_a_late_subscriber_gets_the_latest_message_at_once() -> None:
    """Nothing is sent after it tunes in, yet it hears the session's last message."""
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub:
        pub.open_session("s1")
        for i in range(1, 11):
            pub.send("s1", b"value %d" % i, ttl=30.0)
        with Subscriber(pub.endpoint, channel="c") as late:
            late.tune_in("s1")
            got = recv_all(late, 1)
            assert (got[0].seq, got[0].payload, got[0].ttl) == (10, b"value 10", 30.0)
            pub.send("s1", b"value 11")
            assert [m.seq for m in recv_all(late, 1)] == [11]
            assert late.stats.gaps == 0


def test_the_last_value_goes_to_the_newcomer_only() -> None:
    """A subscriber already listening does not hear it again when another one joins."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub,
        Subscriber(pub.endpoint, channel="c") as early,
    ):
        pub.open_session("s1")
        early.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"only once")
        assert recv_all(early, 1)[0].payload == b"only once"
        with Subscriber(pub.endpoint, channel="c") as late:
            late.tune_in("s1")
            assert recv_all(late, 1)[0].payload == b"only once"
        assert drain(early) == []


def test_an_expired_last_value_is_never_handed_over() -> None:
    """Past its TTL, the latest message stays undelivered."""
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub:
        pub.open_session("s1")
        pub.send("s1", b"short-lived", ttl=0.05)
        expiry = time.monotonic() + 0.1
        wait_until(lambda: time.monotonic() > expiry, what="the TTL to pass")
        with Subscriber(pub.endpoint, channel="c") as late:
            late.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            assert drain(late) == []


def test_without_last_value_a_late_subscriber_hears_only_what_comes_next() -> None:
    """The feature is opt-in."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s1")
        pub.send("s1", b"before")
        with Subscriber(pub.endpoint, channel="c") as late:
            late.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            assert drain(late) == []


def test_a_follower_gets_the_live_sessions_last_value() -> None:
    """Following works too: the live session's latest message arrives on tune-in."""
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub:
        pub.open_session("s1")
        pub.send("s1", b"latest")
        with Subscriber(pub.endpoint, channel="c") as late:
            late.follow()
            got = recv_all(late, 1)
            assert (got[0].session, got[0].payload) == ("s1", b"latest")
