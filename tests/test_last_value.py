"""Last value on tune-in: a late subscriber gets the latest message at once, alone."""

from __future__ import annotations

import time

from radio import Publisher, Subscriber
from tests.helpers import DEADLINE_S, drain, recv_all, wait_until


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
            assert late.stats.expired == 0  # the publisher did not send it at all


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


def test_the_last_value_never_reaches_other_subscribers_of_the_session() -> None:
    """It travels to the newcomer's inbox: a raw SUB on the session topic never sees it
    (so it cannot learn anyone's presence ID either)."""
    import zmq

    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub:
        pub.open_session("s1")
        spy = zmq.Context.instance().socket(zmq.SUB)
        spy.subscribe(b"c/s1/")
        spy.connect(pub.endpoint)
        with Subscriber(pub.endpoint, channel="c") as early:
            early.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.send("s1", b"marker")
            assert recv_all(early, 1)[0].payload == b"marker"
            assert spy.poll(DEADLINE_S * 1000)
            assert spy.recv().endswith(b"marker")  # the spy hears the session itself
            with Subscriber(pub.endpoint, channel="c") as late:
                late.tune_in("s1")
                assert recv_all(late, 1)[0].payload == b"marker"
            assert not spy.poll(300)  # but not the last value sent to the newcomer
        spy.close(linger=0)


def test_a_retuned_subscriber_does_not_get_the_last_value_twice() -> None:
    """Tune out and in again: what was already heard is not handed over again."""
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub:
        pub.open_session("s1")
        pub.send("s1", b"only")
        with Subscriber(pub.endpoint, channel="c") as sub:
            sub.tune_in("s1")
            assert [m.seq for m in recv_all(sub, 1)] == [1]
            sub.tune_out("s1")
            wait_until(lambda: pub.listeners("s1") == 0, what="the tune-out")
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            assert drain(sub) == []


def test_last_value_with_batching_keeps_order_and_no_duplicates() -> None:
    """A batch still pending is sent before the last value: no repeats, no reordering."""
    with (
        Publisher(
            "tcp://127.0.0.1:*", channel="c", last_value=True, batch_size=100, batch_delay=60.0
        ) as pub,
        Subscriber(pub.endpoint, channel="c") as early,
    ):
        pub.open_session("s1")
        early.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        for i in range(1, 6):
            pub.send("s1", b"%d" % i)
        with Subscriber(pub.endpoint, channel="c") as late:
            late.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.flush()
            seqs = [m.seq for m in drain(late)]
        assert seqs == sorted(set(seqs))
        assert [m.seq for m in drain(early)] == [1, 2, 3, 4, 5]
