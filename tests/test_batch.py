"""Opt-in batching: many messages per frame, same guarantees, bounded delay."""

from __future__ import annotations

import pytest

from radio import InvalidSettingError, Publisher, Subscriber
from radio.core.wire import HEADER
from tests.helpers import DEADLINE_S, drain, recv_all, tuned, wait_until


@pytest.mark.parametrize("sent", [1, 7, 1000])
def test_batched_messages_arrive_whole_and_in_order(sent: int) -> None:
    """Every message arrives once, in order, with its own seq; a short tail is not held.

    (hwm counts messages, so a burst of 1000 in partly filled batches needs room.)
    """
    with (
        Publisher(
            "tcp://127.0.0.1:*", channel="c", batch_size=64, batch_delay=0.005, hwm=10_000
        ) as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        for i in range(sent):
            pub.send("s1", b"m%d" % i)
        got = recv_all(sub, sent)  # the tail goes out after batch_delay, by itself
        assert [m.payload for m in got] == [b"m%d" % i for i in range(sent)]
        assert [m.seq for m in got] == list(range(1, sent + 1))
        assert sub.stats.gaps == 0


def test_closing_a_session_sends_its_batch_before_the_end() -> None:
    """close_session flushes: the subscriber hears every message, then the END."""
    with tuned(pub={"batch_size": 256, "batch_delay": 60.0}) as (pub, sub):
        for i in range(10):
            pub.send("s1", b"%d" % i)
        pub.close_session("s1")
        assert [m.seq for m in recv_all(sub, 10)] == list(range(1, 11))
        wait_until(lambda: sub.recv(0.05) is None and not sub.sessions, what="the END")
        assert sub.stats.gaps == 0


def test_a_follower_hears_batches_of_each_session_in_order() -> None:
    """Opening a session flushes older batches first, so a follower hears no mix-up."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", batch_size=256, batch_delay=60.0) as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        sub.follow()
        pub.open_session("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        for i in range(5):
            pub.send("s1", b"old %d" % i)
        pub.open_session("s2")  # flushes s1's batch, then the beacon
        assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
        for i in range(5):
            pub.send("s2", b"new %d" % i)
        pub.flush()
        got = drain(sub)
        assert [(m.session, m.seq) for m in got] == [("s1", i) for i in range(1, 6)] + [
            ("s2", i) for i in range(1, 6)
        ]


def test_bad_batch_settings_are_refused() -> None:
    """batch_size and batch_delay are checked like every other setting."""
    with pytest.raises(InvalidSettingError, match="batch size -1"):
        Publisher("tcp://127.0.0.1:*", batch_size=-1)
    with pytest.raises(InvalidSettingError, match="batch delay 0"):
        Publisher("tcp://127.0.0.1:*", batch_delay=0)


def test_a_publisher_batches_at_most_max_batch_messages() -> None:
    """No publisher makes a frame a subscriber would refuse as too many messages."""
    from radio.core.wire import MAX_BATCH_MESSAGES

    with pytest.raises(InvalidSettingError, match="at most"):
        Publisher("tcp://127.0.0.1:*", batch_size=MAX_BATCH_MESSAGES + 1)


def test_a_payload_at_the_limit_is_refused_not_lost_when_batching() -> None:
    """The record header counts: what the publisher accepts, the subscriber receives."""
    from radio import MessageTooLargeError

    limit = 2000
    with tuned(
        pub={"batch_size": 10, "max_message_size": limit}, sub={"max_message_size": limit}
    ) as (pub, sub):
        biggest = limit - len(b"c/s1/") - HEADER.size - 12
        with pytest.raises(MessageTooLargeError):
            pub.send("s1", b"x" * (biggest + 1))
        pub.send("s1", b"x" * biggest)
        pub.flush()
        assert len(recv_all(sub, 1)[0].payload) == biggest
