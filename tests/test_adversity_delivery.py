"""Adversity: what reaches whom, and how every loss is counted, over real sockets."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from radio import Message, Publisher, Subscriber
from radio.core.names import session_topic
from radio.core.wire import HEADER, Kind, encode
from tests.helpers import DEADLINE_S, drain, recv_all, wait_until

INBOX_MARK = b"\x00"


def rss_mib() -> float:
    """This process's resident set size, in MiB (from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.fixture
def raw() -> Iterator[list[zmq.Socket[bytes]]]:
    """Raw pyzmq sockets made by the test; all closed at the end."""
    made: list[zmq.Socket[bytes]] = []
    yield made
    for sock in made:
        sock.close(linger=0)


def raw_socket(made: list[zmq.Socket[bytes]], kind: int) -> zmq.Socket[bytes]:
    sock = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    made.append(sock)
    return sock


def read_until(sock: zmq.Socket[bytes], seen: list[bytes], payload: bytes) -> None:
    """Receive frames into *seen* until one ends with *payload* (deadline DEADLINE_S)."""
    deadline = time.monotonic() + DEADLINE_S
    while not (seen and seen[-1].endswith(payload)):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no frame ending with {payload!r} before the deadline")
        if sock.poll(int(remaining * 1000)):
            seen.append(sock.recv())


# -- 4. last value ----------------------------------------------------------------------


def test_a_last_value_reaches_the_newcomer_and_no_channel_or_session_subscriber(
    raw: list[zmq.Socket[bytes]],
) -> None:
    """Raw SUBs subscribed to the channel prefix ``chan/`` and to the session topic
    never receive an inbox frame (one starting with a zero byte), while a newcomer
    that tunes in gets the session's last value at once."""
    with Publisher("tcp://127.0.0.1:*", channel="chan", last_value=True) as pub:
        pub.open_session("s")
        eavesdroppers = []
        for prefix in (b"chan/", session_topic("chan", "s")):
            sock = raw_socket(raw, zmq.SUB)
            sock.subscribe(prefix)
            sock.connect(pub.endpoint)
            eavesdroppers.append(sock)
        seen: list[list[bytes]] = [[], []]
        attached: set[int] = set()

        def probe() -> bool:
            pub.send("s", b"probe", ttl=30.0)
            for i, sock in enumerate(eavesdroppers):
                while sock.poll(5):
                    seen[i].append(sock.recv())
                    attached.add(i)
            return len(attached) == len(eavesdroppers)

        wait_until(probe, what="both raw SUBs to receive the session's traffic")
        value_seq = pub.send("s", b"the value", ttl=30.0)
        with Subscriber(pub.endpoint, channel="chan") as newcomer:
            newcomer.tune_in("s")
            [value] = recv_all(newcomer, 1)
            assert (value.seq, value.payload) == (value_seq, b"the value")
            pub.send("s", b"sentinel")  # sent after the inbox frame: arrives after it
            for sock, frames in zip(eavesdroppers, seen, strict=True):
                read_until(sock, frames, b"sentinel")
    for frames in seen:
        inbox = [frame for frame in frames if frame.startswith(INBOX_MARK)]
        assert inbox == []


# -- 8. retune backlog ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub_hwm", "wait_for"),
    [(4000, 2000), (100, 100), (100, 0)],
    ids=["read-ahead", "past-hwm", "in-flight"],
)
def test_a_retune_never_yields_the_backlog_queued_before_it(sub_hwm: int, wait_for: int) -> None:
    """2,000 messages pile up unread (all decoded ahead; partly past the subscriber's
    hwm, dropped and counted as gaps; or still on their way, the re-tune following
    the last send at once);
    tune_out then tune_in the same session. None of the 2,000 is ever yielded, and
    the stale ones taken off the socket are fenced. Once the publisher has seen the
    re-tune (a probe sent after it is heard: `wait_for_listener` cannot tell, as the
    listener it counts never went away for it), 10 more are all yielded."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", hwm=5000) as pub,  # drops none
        Subscriber(pub.endpoint, channel="c", hwm=sub_hwm) as sub,
    ):
        pub.open_session("s")
        sub.tune_in("s")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        for i in range(2000):
            pub.send("s", b"old %d" % i)
        wait_until(lambda: sub.stats.received >= wait_for, what="the backlog to be read ahead")
        read_ahead = sub.stats.received
        sub.tune_out("s")
        sub.tune_in("s")
        probes: list[Message] = []

        def probe_heard() -> bool:
            pub.send("s", b"probe")
            probes.extend(drain(sub))
            return any(m.payload == b"probe" for m in probes)

        wait_until(probe_heard, what="a probe sent after the re-tune to be heard")
        for i in range(10):
            pub.send("s", b"new %d" % i)
        got = recv_all(sub, 10) + drain(sub)
        stats = sub.stats
    assert not [m for m in probes if m.payload.startswith(b"old")]
    assert [m.payload for m in got] == [b"new %d" % i for i in range(10)]
    assert [m.seq for m in got] == list(range(got[0].seq, got[0].seq + 10))
    assert stats.expired == 0
    assert read_ahead <= stats.fenced
    assert stats.fenced + stats.gaps >= 2000  # each old one fenced, or dropped past hwm: a gap
    if sub_hwm > 2000:
        assert stats.gaps == 0
    assert stats.received + stats.fenced + stats.gaps <= got[-1].seq  # none counted twice


# -- 9. oversize --------------------------------------------------------------------------


def test_an_oversize_frame_is_counted_once_and_later_messages_are_heard(
    raw: list[zmq.Socket[bytes]],
) -> None:
    """A raw PUB sends a valid 3,000-byte DATA frame to a subscriber limited to 1,000
    bytes, then small ones: the big one is counted once, as oversize (not also as a
    gap), and every small one is heard, in order."""
    topic = session_topic("c", "s")
    rogue = raw_socket(raw, zmq.PUB)
    rogue.bind("tcp://127.0.0.1:*")
    seq = 0

    def frame(size: int) -> bytes:
        nonlocal seq
        seq += 1
        return encode(topic, Kind.DATA, seq, time.time(), b"x" * size, live=True)

    with Subscriber(
        rogue.getsockopt_string(zmq.LAST_ENDPOINT), channel="c", max_message_size=1000
    ) as sub:
        sub.tune_in("s")
        heard: list[Message] = []

        def probe() -> bool:
            rogue.send(frame(10))
            message = sub.recv(timeout=0.01)
            return message is not None and bool(heard.append(message) or True)

        wait_until(probe, what="the subscriber to hear the raw PUB")
        while heard[-1].seq < seq:  # the probes still on their way
            heard += recv_all(sub, 1)
        before = sub.stats
        big = frame(3000 - len(topic) - HEADER.size)
        assert len(big) == 3000
        rogue.send(big)
        for _ in range(10):
            rogue.send(frame(10))
        got = recv_all(sub, 10) + drain(sub)
        stats = sub.stats
    assert [m.seq for m in got] == list(range(seq - 9, seq + 1))
    assert stats.oversize - before.oversize == 1
    assert stats.received - before.received == 10
    assert stats.gaps - before.gaps == 0, "the oversize frame was counted twice (also as a gap)"


# -- 10. batching memory ------------------------------------------------------------------


def test_batching_counts_hwm_in_messages_and_a_stopped_listener_costs_little() -> None:
    """batch_size=64, hwm=1000: the socket's SNDHWM is ceil(1000/64) = 16 frames, and
    200,000 100-byte messages sent past a subscriber that never reads grow the
    process's memory by less than 64 MiB."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", batch_size=64, hwm=1000) as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        assert pub._socket.getsockopt(zmq.SNDHWM) == 16
        pub.open_session("s")
        sub.tune_in("s")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        payload = b"p" * 100
        before = rss_mib()
        for _ in range(200_000):
            pub.send("s", payload)
        pub.flush()
        grown = rss_mib() - before
        assert grown < 64, f"RSS grew {grown:.1f} MiB for a listener that never reads"


# -- 11. expiry counted once -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("sub_hwm", "sent"), [(1000, 100), (10, 500)], ids=["read-ahead", "past-hwm"]
)
def test_messages_that_expire_unread_are_counted_once_as_expired(sub_hwm: int, sent: int) -> None:
    """Messages with ttl=0.05 s arrive while the application does not read (decoded
    ahead, or past the subscriber's hwm); read 0.3 s later, none is yielded and each
    is counted exactly once: as expired, or as a gap when hwm dropped it; never also
    as received."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c", hwm=sub_hwm) as sub,
    ):
        pub.open_session("s")
        sub.tune_in("s")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        last = 0
        for i in range(sent):
            last = pub.send("s", b"short-lived %d" % i, ttl=0.05)
        assert last == sent
        aged = time.monotonic() + 0.3
        wait_until(lambda: time.monotonic() > aged, what="the messages to age past their TTL")
        assert drain(sub) == []
        stats = sub.stats
    # Each one counted once: expired, or (past hwm, the application not reading) a gap.
    assert (stats.expired + stats.gaps, stats.received, stats.fenced) == (sent, 0, 0)
    assert stats.expired >= min(sent, sub_hwm)
    if sent <= sub_hwm:
        assert stats.gaps == 0
