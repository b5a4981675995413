"""Large payloads travel as two-part messages over real sockets, with every guarantee kept."""

from __future__ import annotations

import time

import pytest
import zmq

from radio import MessageTooLargeError, Publisher, Subscriber
from radio.core.names import session_topic
from radio.core.wire import HEADER, PART_THRESHOLD, Kind, decode_parts, encode, encode_parts
from tests.helpers import DEADLINE_S, drain, recv_all, tuned, wait_until

BIG = PART_THRESHOLD
SIZES = [100, BIG - 1, BIG, 3 * BIG + 7, 10, 1 << 20]


def _payloads() -> list[bytes]:
    return [bytes((i,)) * size for i, size in enumerate(SIZES)]


@pytest.mark.parametrize("last_value", [False, True], ids=["plain", "last-value"])
def test_small_and_large_payloads_arrive_whole_and_in_order(last_value: bool) -> None:
    """Payloads on both sides of the threshold, with and without a TTL, arrive as bytes
    equal to what was sent, numbered in order, with nothing counted as lost."""
    with tuned(pub={"last_value": last_value}) as (pub, sub):
        for i, payload in enumerate(_payloads()):
            pub.send("s1", payload, ttl=30.0 if i % 2 else None)
        got = recv_all(sub, len(SIZES))
    assert [m.payload for m in got] == _payloads()
    assert all(type(m.payload) is bytes for m in got)
    assert [m.seq for m in got] == list(range(1, len(SIZES) + 1))
    stats = sub.stats
    assert (stats.received, stats.gaps, stats.malformed, stats.oversize) == (len(SIZES), 0, 0, 0)


@pytest.mark.parametrize("live", [True, False])
def test_the_publisher_sends_encode_parts(live: bool) -> None:
    """On the wire, a large payload is one ZeroMQ message of two frames: the head of
    wire.encode_parts (LIVE flag included) and the payload."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s1")
        if not live:
            pub.open_session("s2")
        raw = zmq.Context.instance().socket(zmq.SUB)
        try:
            raw.setsockopt(zmq.RCVTIMEO, round(DEADLINE_S * 1000))
            raw.subscribe(session_topic("c", "s1"))
            raw.subscribe(session_topic("c", "s1") + b"\x00raw-listener")
            raw.connect(pub.endpoint)
            wait_until(lambda: pub.listeners("s1") == 1, what="the raw listener")
            payload = b"z" * BIG
            pub.send("s1", payload, ttl=2.5)
            pub.send("s1", b"small")
            head, part = raw.recv_multipart()
            small = raw.recv_multipart()
        finally:
            raw.close(linger=0)
    sent_at, me = decode_parts(head, part).sent_at, decode_parts(head, part).publisher
    topic = session_topic("c", "s1")
    parts = encode_parts(topic, 1, sent_at, payload, 2.5, live=live, publisher=me)
    assert [head, part] == list(parts)
    assert len(small) == 1
    assert small[0].startswith(topic)


def test_a_late_subscriber_gets_a_large_last_value_in_one_frame() -> None:
    """The last value goes to the newcomer's inbox as a single frame, large or not."""
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=True) as pub:
        pub.open_session("s1")
        pub.send("s1", b"a" * BIG, ttl=30.0)
        pub.send("s1", b"b" * (2 * BIG), ttl=30.0)
        with Subscriber(pub.endpoint, channel="c") as late:
            late.tune_in("s1")
            [last] = recv_all(late, 1)
            assert (last.seq, last.payload) == (2, b"b" * (2 * BIG))
            pub.send("s1", b"c" * BIG)
            assert [(m.seq, m.payload) for m in recv_all(late, 1)] == [(3, b"c" * BIG)]
            assert (late.stats.gaps, late.stats.malformed) == (0, 0)


def test_a_batching_session_keeps_large_payloads_in_single_frames() -> None:
    """With batch_size, a large payload is a BATCH record (or a batch of its own)."""
    with tuned(pub={"batch_size": 4}) as (pub, sub):
        for payload in _payloads():
            pub.send("s1", payload)
        pub.flush()
        got = recv_all(sub, len(SIZES))
    assert [m.payload for m in got] == _payloads()


def test_a_large_message_over_the_limit_is_refused_or_counted_oversize() -> None:
    """The publisher refuses what its limit does not allow, parts or not; a subscriber
    with a smaller limit counts a large message as oversize, once, and no gap."""
    limit = 3 * BIG
    biggest = limit - len(b"c/s1/") - HEADER.size
    with tuned(pub={"max_message_size": limit}, sub={"max_message_size": 2 * BIG}) as (pub, sub):
        with pytest.raises(MessageTooLargeError):
            pub.send("s1", b"x" * (biggest + 1))
        pub.send("s1", b"a" * BIG)
        pub.send("s1", b"b" * biggest)  # over the subscriber's limit
        pub.send("s1", b"c" * (2 * BIG - len(b"c/s1/") - HEADER.size))  # exactly at it
        pub.send("s1", b"d")
        got = recv_all(sub, 3)
        assert [m.seq for m in got] == [1, 3, 4]
        wait_until(lambda: sub.stats.oversize == 1, what="the oversize count")
        stats = sub.stats
        assert (stats.gaps, stats.malformed, stats.received) == (0, 0, 3)


def test_conflate_keeps_the_newest_large_message() -> None:
    """In conflate mode, large messages replace each other as small ones do."""
    with tuned(sub={"conflate": True}) as (pub, sub):
        for i in range(20):
            pub.send("s1", bytes((i,)) * BIG)
        pub.send("s1", b"last")
        wait_until(lambda: sub.stats.received == 21, what="every message to be read")
        assert [m.payload for m in drain(sub)] == [b"last"]
        assert sub.stats.conflated == 20


def test_an_expired_large_message_is_never_yielded() -> None:
    """A large message older than its TTL is counted expired, as a small one."""
    with tuned() as (pub, sub):
        pub.send("s1", b"old" * BIG, ttl=0.05)
        expiry = time.monotonic() + 0.1
        wait_until(lambda: time.monotonic() > expiry, what="the TTL to pass")
        assert sub.recv(0.2) is None
        assert sub.stats.expired == 1
        pub.send("s1", b"fresh" * BIG, ttl=30.0)
        assert recv_all(sub, 1)[0].payload == b"fresh" * BIG


def test_a_single_frame_large_message_from_another_publisher_still_arrives() -> None:
    """A peer that sends a large payload in one frame (as before) is heard too."""
    with Subscriber("tcp://127.0.0.1:*", channel="c", bind=True) as sub:
        sub.tune_in("s1")
        raw = zmq.Context.instance().socket(zmq.PUB)
        try:
            raw.connect(sub.endpoint)
            frame = encode(session_topic("c", "s1"), Kind.DATA, 1, 1.0, b"q" * BIG)
            wait_until(
                lambda: raw.send(frame) is None and sub.recv(0.01) is not None,
                what="the raw publisher to be heard",
            )
        finally:
            raw.close(linger=0)
