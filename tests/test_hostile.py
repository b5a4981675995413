"""Hostile and broken input: junk from rogue peers never crashes anyone or hides data."""

from __future__ import annotations

import random
import struct
import time

import zmq

from radio import Publisher, Subscriber
from radio.core.wire import HEADER, Kind, encode, encode_parts
from radio.testing import capture_logs
from tests.helpers import DEADLINE_S, drain, free_tcp_endpoint, recv_all, tuned, wait_until

TOPIC = b"c/s1/"


def _junk(count: int) -> list[bytes]:
    """Truncated, bit-flipped, wrong-version, unknown-kind and random frames on the topic."""
    rng = random.Random(1234)
    valid = encode(TOPIC, Kind.DATA, 999, 1.0, b"payload")
    frames = []
    for i in range(count):
        choice = i % 6
        if choice == 0:
            frames.append(valid[: rng.randrange(len(TOPIC), len(TOPIC) + HEADER.size)])
        elif choice == 1:
            flipped = bytearray(valid)
            flipped[len(TOPIC) + rng.randrange(2)] ^= 0xFF  # version or kind byte
            frames.append(bytes(flipped))
        elif choice == 2:
            frames.append(TOPIC + struct.pack("!BBQdd", 1, 1, 1, float("nan"), 0.0))
        elif choice == 3:
            frames.append(TOPIC + struct.pack("!BBQdd", 1, 4, 1, 1.0, 0.0) + b"\x00" * 5)
        elif choice == 4:
            frames.append(TOPIC + rng.randbytes(rng.randrange(0, 64)))
        else:
            frames.append(b"c/" + rng.randbytes(20))
    return frames


def _wait_heard(rogue: zmq.Socket[bytes], sub: Subscriber, probe: bytes) -> None:
    """Send *probe* (malformed) until *sub* counts it: the rogue's connection is attached."""
    wait_until(
        lambda: rogue.send(probe) is None and sub.recv(0.01) is None and sub.stats.malformed > 0,
        what="the rogue to be heard",
    )


def test_rogue_publisher_junk_is_counted_and_valid_messages_still_arrive() -> None:
    """A raw ZeroMQ peer sprays junk on the session's topic; the subscriber counts it,
    logs it at a bounded rate, and delivers every valid message."""
    endpoint = free_tcp_endpoint()
    ctx = zmq.Context.instance()
    with capture_logs() as logs, Subscriber(endpoint, channel="c", bind=True) as sub:
        sub.tune_in("s1")
        rogue = ctx.socket(zmq.PUB)
        rogue.connect(endpoint)
        with Publisher(endpoint, channel="c", bind=False) as pub:
            pub.open_session("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            junk = _junk(600)
            _wait_heard(rogue, sub, junk[0])
            for i, frame in enumerate(junk):
                rogue.send(frame)
                pub.send("s1", b"valid %d" % i)
            got = recv_all(sub, 600) + drain(sub)
        rogue.close(linger=0)
    assert [m.payload for m in got] == [b"valid %d" % i for i in range(600)]
    assert [m.seq for m in got] == list(range(1, 601))
    assert sub.stats.malformed >= 500  # every choice but the other-topic one is malformed
    malformed_logs = [entry for entry in logs if entry["event"] == "message_malformed"]
    assert 1 <= len(malformed_logs) <= 10  # rate-limited: not one line per junk frame


def test_broken_two_part_messages_are_counted_and_never_crash_or_mislead() -> None:
    """A rogue sends parted heads without a part, with a part that is itself a valid
    header, with an extra third part, and on a session not subscribed to: the
    subscriber yields only what the heads say (the header-looking part is a
    payload), counts the rest as malformed, and delivers every valid message of
    the real publisher."""
    endpoint = free_tcp_endpoint()
    ctx = zmq.Context.instance()
    big = b"B" * 70_000
    forged = encode(TOPIC, Kind.DATA, 10**9, 1.0, b"forged")
    with Subscriber(endpoint, channel="c", bind=True) as sub:
        sub.tune_in("s1")
        rogue = ctx.socket(zmq.PUB)
        rogue.connect(endpoint)
        _wait_heard(rogue, sub, b"c/s1/junk")
        malformed = sub.stats.malformed
        head, _ = encode_parts(TOPIC, 1, 1.0, big)
        lone_head = encode_parts(TOPIC, 2, 1.0, b"x" * 10)[0]
        rogue.send(lone_head)  # no part: the head is malformed
        rogue.send_multipart(encode_parts(TOPIC, 3, 1.0, forged))  # a payload, not a frame
        rogue.send_multipart([*encode_parts(TOPIC, 4, 1.0, big), b"third part"])
        rogue.send_multipart(encode_parts(b"c/s9/", 1, 1.0, big))  # a session not heard
        rogue.send(head)  # a head alone whose length matches no frame after it
        rogue.send_multipart(encode_parts(TOPIC, 5, 1.0, big))
        got = recv_all(sub, 3)
        with Publisher(endpoint, channel="c", bind=False) as pub:
            pub.open_session("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            for i in range(20):
                pub.send("s1", big if i % 2 else b"small %d" % i)
            valid = recv_all(sub, 20)
        rogue.close(linger=0)
    assert [(m.session, m.seq) for m in got] == [("s1", 3), ("s1", 4), ("s1", 5)]
    assert got[0].payload == forged
    assert got[1].payload == big
    assert [m.seq for m in valid] == list(range(1, 21))
    assert all(m.payload == big for m in valid[1::2])
    assert sub.stats.malformed - malformed == 3  # the two lone heads and the third part
    assert sub.stats.fenced == 0  # ZeroMQ filtered out s9's message whole, its part too


def test_lying_heads_sent_alone_swallow_no_honest_message() -> None:
    """Issue 18: the subscriber pairs a parted head with the frame it reads next, which
    may be the first of another ZeroMQ message. A rogue sends heads alone that announce
    exactly the length of the honest frames; about 500 of ~2,000 honest messages were
    yielded as garbage. The head's check of its part's first bytes (which hold the
    honest frame's send time) pairs it with nothing: every honest message arrives."""
    endpoint = free_tcp_endpoint()
    ctx = zmq.Context.instance()
    count = 2000
    payloads = [b"valid %04d" % i for i in range(count)]
    honest_size = len(TOPIC) + HEADER.size + len(payloads[0])
    liar = encode_parts(TOPIC, 7, 1.0, b"L" * honest_size)[0]
    with Subscriber(endpoint, channel="c", bind=True, hwm=0) as sub:  # no drop: all arrive
        sub.tune_in("s1")
        rogue = ctx.socket(zmq.PUB)
        rogue.connect(endpoint)
        _wait_heard(rogue, sub, liar)
        rogue.setsockopt(zmq.SNDHWM, 0)
        with Publisher(endpoint, channel="c", bind=False, hwm=0) as pub:
            pub.open_session("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            for payload in payloads:
                rogue.send(liar)
                pub.send("s1", payload)
            got = recv_all(sub, count) + drain(sub)
        rogue.close(linger=0)
    assert [m.payload for m in got] == payloads
    assert sub.stats.received == count


def test_oversized_frames_cannot_make_the_subscriber_allocate_them() -> None:
    """Above max_message_size libzmq drops the sender's connection; valid peers go on."""
    endpoint = free_tcp_endpoint()
    ctx = zmq.Context.instance()
    with Subscriber(endpoint, channel="c", bind=True, max_message_size=10_000) as sub:
        sub.tune_in("s1")
        with Publisher(endpoint, channel="c", bind=False) as pub:
            pub.open_session("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            rogue = ctx.socket(zmq.PUB)
            rogue.connect(endpoint)
            for _ in range(20):
                rogue.send(TOPIC + b"\x00" * 1_000_000)
            for i in range(100):
                pub.send("s1", b"%d" % i)
            got = recv_all(sub, 100)
            rogue.close(linger=0)
    assert [m.seq for m in got] == list(range(1, 101))
    assert sub.stats.received == 100


def test_junk_and_forged_subscriptions_do_not_disturb_presence_or_delivery() -> None:
    """A rogue XSUB sends odd, duplicate, forged and huge subscription messages: the
    publisher keeps serving and the count of the real listener stays right."""
    ctx = zmq.Context.instance()
    with tuned() as (pub, sub):
        rogue = ctx.socket(zmq.XSUB)
        rogue.connect(pub.endpoint)
        for junk in (
            b"",
            b"\x05junk",
            b"\x01c/s1/",
            b"\x01c/s1/",
            b"\x01c/s1/\x00rogue",
            b"\x01c/s1/\x00rogue",
            b"\x00c/s1/\x00guessed-id",
        ):
            rogue.send(junk)
        wait_until(lambda: pub.listeners("s1") == 2, what="the rogue's marker to count once")
        for i in range(50):
            pub.send("s1", b"%d" % i)
        assert [m.seq for m in recv_all(sub, 50)] == list(range(1, 51))
        rogue.send(b"\x01" + b"x" * 100_000)  # over the XPUB's limit: libzmq drops the rogue
        wait_until(lambda: pub.listeners("s1") == 1, what="the rogue's leave")
        rogue.close(linger=0)
        pub.send("s1", b"after")
        assert recv_all(sub, 1)[0].payload == b"after"
        assert pub.listeners("s1") == 1


def test_a_raw_sub_subscribing_twice_leaves_no_phantom_listener() -> None:
    """Plain subscriptions do not count; a radio subscriber's count is exact."""
    ctx = zmq.Context.instance()
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s1")
        raw = ctx.socket(zmq.SUB)
        raw.connect(pub.endpoint)
        raw.subscribe(b"c/s1/")
        raw.subscribe(b"c/s1/")
        with Subscriber(pub.endpoint, channel="c") as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            raw.close(linger=0)
            pub.send("s1", b"x")
            assert recv_all(sub, 1)[0].payload == b"x"
            assert pub.listeners("s1") == 1
        wait_until(lambda: pub.listeners("s1") == 0, what="the radio subscriber to leave")


def test_a_subscription_flood_does_not_block_sending() -> None:
    """A peer toggling subscriptions as fast as it can: sends and delivery go on."""
    import threading

    ctx = zmq.Context.instance()
    with tuned() as (pub, sub):
        stop = threading.Event()

        def flood() -> None:
            rogue = ctx.socket(zmq.XSUB)
            rogue.connect(pub.endpoint)
            while not stop.is_set():
                rogue.send(b"\x01c/s1/\x00flood")
                rogue.send(b"\x00c/s1/\x00flood")
            rogue.close(linger=0)

        flooder = threading.Thread(target=flood)
        flooder.start()
        try:
            for i in range(300):
                pub.send("s1", b"%d" % i)
            assert [m.seq for m in recv_all(sub, 300)] == list(range(1, 301))
        finally:
            stop.set()
            flooder.join()


def test_a_forgery_in_the_name_of_the_publisher_that_ended_a_session_is_never_heard() -> None:
    """The publisher ends s1 after 3 messages; the subscriber tunes in to s1 again (the
    publisher's HELLO says 3). A raw peer sends s1 #4, #5, ... under the publisher's
    instance ID (read off any clear-text header), stamped now, for longer than the 1 s a
    re-tune waits for a lost HELLO: the publisher can never send on s1 again, so none is
    yielded; those that arrive are fenced, until the publisher's beacon, which still lists
    s1 as ended, ends it again (the compiled path; before the fix, one was yielded)."""
    endpoint = free_tcp_endpoint()
    ctx = zmq.Context.instance()
    with Subscriber(endpoint, channel="c", bind=True) as sub:
        sub.tune_in("s1")
        rogue = ctx.socket(zmq.PUB)
        rogue.connect(endpoint)
        with Publisher(endpoint, channel="c", bind=False) as pub:
            pub.open_session("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            _wait_heard(rogue, sub, TOPIC + b"junk")
            for i in range(3):
                pub.send("s1", b"honest %d" % i)
            assert [m.seq for m in recv_all(sub, 3)] == [1, 2, 3]
            pub.close_session("s1")
            wait_until(lambda: sub.recv(0.01) is None and not sub.sessions, what="the END")
            instance = pub._core.publisher_id
            sub.tune_in("s1")
            past_grace = time.monotonic() + 1.5  # HELLO_GRACE_S, and a margin
            seq = 3

            def forge() -> bool:
                nonlocal seq
                seq += 1
                frame = encode(TOPIC, Kind.DATA, seq, time.monotonic(), b"forged", 0.0, live=True,
                               publisher=instance)  # fmt: skip
                rogue.send(frame)
                assert sub.recv(0.005) is None
                return False

            before = sub.stats.fenced
            wait_until(  # the rogue has the new subscription: its frames arrive
                lambda: forge() or sub.stats.fenced > before, what="a forged frame fenced"
            )
            wait_until(lambda: forge() or time.monotonic() > past_grace, what="the grace past")
            wait_until(lambda: not sub.sessions, what="the beacon ending s1 again")
            assert drain(sub) == []
        rogue.close(linger=0)
    assert sub.stats.fenced > before
    assert sub.stats.received == 3
