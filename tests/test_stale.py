"""The seed's story end to end: raw ZeroMQ delivers a stale backlog; radio never does."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest
import zmq

from radio import Message, Publisher, Subscriber
from tests.helpers import (
    DEADLINE_S,
    Peer,
    drain,
    free_tcp_endpoint,
    recv_all,
    retry_bind,
    wait_until,
)

OLD_BACKLOG = 500


def _raw_restart_scenario(sender_type: int, receiver_type: int) -> tuple[int, int]:
    """Sender connects to a receiver that restarts at the same address.

    The first receiver hears the sender, then goes away; once the sender has
    noticed the disconnect, it keeps sending 500 "old" messages; a new receiver
    binds the same address and the sender sends "new" ones. Returns (stale, fresh)
    as counted by the new receiver.
    """
    ctx = zmq.Context.instance()
    address = free_tcp_endpoint()

    def receiver() -> zmq.Socket[bytes]:
        sock = ctx.socket(receiver_type)
        if receiver_type == zmq.SUB:
            sock.subscribe(b"")
        retry_bind(lambda: sock.bind(address))
        return sock

    first = receiver()
    sender = ctx.socket(sender_type)
    sender.setsockopt(zmq.SNDHWM, 1000)
    monitor = sender.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    sender.connect(address)
    deadline = time.monotonic() + DEADLINE_S
    while not first.poll(10):  # the first session is heard
        assert time.monotonic() < deadline
        sender.send(b"old", zmq.NOBLOCK)
    first.close(linger=0)
    assert monitor.poll(DEADLINE_S * 1000), "the sender never noticed the receiver leave"
    sender.disable_monitor()
    monitor.close(linger=0)
    for _ in range(OLD_BACKLOG):
        try:
            sender.send(b"old", zmq.NOBLOCK)
        except zmq.Again:
            break
    second = receiver()
    stale = fresh = 0
    while fresh == 0:
        assert time.monotonic() < deadline, "the new receiver never heard the new session"
        with contextlib.suppress(zmq.Again):
            sender.send(b"new", zmq.NOBLOCK)
        while second.poll(10):
            if second.recv() == b"old":
                stale += 1
            else:
                fresh += 1
    sender.close(linger=0)
    second.close(linger=0)
    return stale, fresh


@pytest.mark.parametrize(
    ("sender", "receiver"), [(zmq.PUSH, zmq.PULL), (zmq.PUB, zmq.SUB)], ids=["push", "pub"]
)
def test_raw_zeromq_delivers_the_old_sessions_backlog(sender: int, receiver: int) -> None:
    """The problem radio solves: a connecting sender's queue survives the receiver's restart."""
    stale, fresh = _raw_restart_scenario(sender, receiver)
    assert fresh >= 1
    assert stale >= OLD_BACKLOG // 2, f"expected a stale backlog, got {stale}"


def _only(session: str, messages: list[Message]) -> list[int]:
    assert {m.session for m in messages} <= {session}, "a message of another session leaked"
    return [m.seq for m in messages]


@pytest.mark.parametrize("publisher_binds", [True, False], ids=["pub-binds", "pub-connects"])
@pytest.mark.parametrize("retune", ["tune_in", "follow"])
def test_restarted_subscriber_hears_nothing_of_the_old_session(
    publisher_binds: bool, retune: str
) -> None:
    """A subscriber restarting at the same address gets every new-session message, no stale one."""
    address = free_tcp_endpoint()

    def subscriber(session: str) -> Subscriber:
        sub = retry_bind(lambda: Subscriber(address, channel="c", bind=not publisher_binds))
        if retune == "follow":
            sub.follow()
        else:
            sub.tune_in(session)
        return sub

    first = subscriber("s1")
    with Publisher(address, channel="c", bind=publisher_binds) as pub:
        pub.open_session("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        for i in range(10):
            pub.send("s1", b"old %d" % i)
        assert _only("s1", recv_all(first, 10)) == list(range(1, 11))
        first.close()
        for i in range(OLD_BACKLOG // 2):  # the publisher cannot tell yet, and keeps broadcasting
            pub.send("s1", b"old %d" % i)
        wait_until(lambda: pub.listeners("s1") == 0, what="the publisher noticed the leave")
        for i in range(OLD_BACKLOG // 2):  # and goes on after it noticed
            pub.send("s1", b"old %d" % i)
        pub.close_session("s1")
        pub.open_session("s2")
        second = subscriber("s2")
        try:
            assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
            for i in range(200):
                pub.send("s2", b"new %d" % i)
            got = recv_all(second, 200)
            assert _only("s2", got) == list(range(1, 201))
            assert drain(second) == []
            assert second.stats.gaps == 0
        finally:
            second.close()


@pytest.mark.parametrize("publisher_binds", [True, False], ids=["pub-binds", "pub-connects"])
def test_restarted_subscriber_process_hears_nothing_stale(
    publisher_binds: bool, peers: Callable[..., Peer]
) -> None:
    """The same with the subscriber a real process, killed with SIGKILL and started again."""
    import json

    address = free_tcp_endpoint()
    mode = "connect" if publisher_binds else "bind"
    with Publisher(address, channel="c", bind=publisher_binds) as pub:
        pub.open_session("s1")
        first = peers("subscriber.py", address, "c", "s1", mode)
        first.expect("ready")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"old")
        assert json.loads(first.readline() or "{}")["session"] == "s1"
        first.proc.kill()
        first.proc.wait()
        for _ in range(OLD_BACKLOG):
            pub.send("s1", b"old")
        pub.close_session("s1")
        pub.open_session("s2")
        second = peers("subscriber.py", address, "c", "s2", mode)
        second.expect("ready")
        assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
        for i in range(100):
            pub.send("s2", b"new %d" % i)
        lines = [json.loads(second.readline() or "{}") for _ in range(100)]
        assert [(m["session"], m["seq"]) for m in lines] == [("s2", i) for i in range(1, 101)]


def test_retune_on_the_same_socket_never_yields_queued_old_messages() -> None:
    """Old-session messages still queued when the subscriber retunes are never yielded."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        pub.open_session("s2")
        sub.tune_in("s1")
        sub.tune_in("s2")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
        for i in range(300):
            pub.send("s1", b"old %d" % i)
        pub.send("s2", b"marker")  # queued behind every old message
        sub.tune_out("s1")
        got = recv_all(sub, 1)
        assert got[0].payload == b"marker"
        for i in range(50):
            pub.send("s2", b"new %d" % i)
        rest = recv_all(sub, 50) + drain(sub)
        assert _only("s2", got + rest) == list(range(1, 52))
        assert sub.stats.received == 51


def test_follower_switches_before_any_later_old_message() -> None:
    """A follower moves to a newly opened session; later old-session messages never reach it."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        sub.follow()
        pub.open_session("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"a")
        assert recv_all(sub, 1)[0].session == "s1"
        pub.open_session("s2")  # s1 stays open, but s2 is live now
        assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
        for i in range(100):
            pub.send("s1", b"late old %d" % i)
            pub.send("s2", b"new %d" % i)
        got = recv_all(sub, 100) + drain(sub)
        assert _only("s2", got) == list(range(1, 101))
        assert sub.live == "s2"
        wait_until(lambda: pub.listeners("s1") == 0, what="the follower to leave s1")


def test_follower_never_yields_old_session_messages_sent_after_a_switch_even_when_full() -> None:
    """The beacon announcing s2 may be dropped at a full queue; the LIVE flag still fences
    every s1 message sent after s2 opened."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", hwm=10) as pub,
        Subscriber(pub.endpoint, channel="c", hwm=10) as sub,
    ):
        sub.follow()
        pub.open_session("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        for _ in range(5000):  # the follower's application is busy: queues fill, ZeroMQ drops
            pub.send("s1", b"x" * 1000)
        cut = pub.last_seq("s1")
        pub.open_session("s2")
        for _ in range(5000):
            pub.send("s1", b"late" * 250)
        got = drain(sub)
        late = [m for m in got if m.session == "s1" and m.seq > cut]
        assert late == []
