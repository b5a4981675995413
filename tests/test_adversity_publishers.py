"""Adversity: rival publishers on a channel, ENDs through churn, full queues and closing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from radio import Message, Publisher, Subscriber
from radio.core.announcer import END_REPEATS
from radio.core.transmitter import BEACON_INTERVAL_S
from radio.relay import Relay
from tests.helpers import DEADLINE_S, Peer, default_sigint, drain, wait_until

BIN = Path(sys.executable).parent
RATE = 500  # messages a second from each rival publisher
COUNT = 2000  # about 4 s at RATE
PADDING = b"." * 1000  # 10 MB in 10,000 messages: more than the kernel's socket buffers hold


def pump(sub: Subscriber, got: list[Message], until: Callable[[], bool], timeout: float) -> None:
    """Receive into *got* until *until* holds; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while not until():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s; stats={sub.stats}")
        message = sub.recv(timeout=0.02)
        if message is not None:
            got.append(message)


def accounted(sub: Subscriber) -> int:
    """Messages of heard sessions yielded or counted as lost, by any reason."""
    stats = sub.stats
    return stats.received + stats.gaps + stats.expired + stats.fenced


# -- 5. two publisher processes on one channel -------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_follower_keeps_to_one_of_two_publishers_until_it_goes(
    peers: Callable[..., Peer], signum: int
) -> None:
    """Two publisher processes reach one follower through a relay, each sending
    numbered messages on its own session at 500 msg/s. The follower never flaps: it
    hears only the first publisher's session, counts the other's beacons as conflicts,
    and accounts for every message of its session from the first it heard to the last
    sent. Stopped with SIGTERM (it signs off) or SIGKILL (silent: off air after 3
    beacon intervals), the first publisher is replaced: the follower moves to the other
    one's session within 5 s and hears it."""
    with (
        Relay("tcp://127.0.0.1:*", "tcp://127.0.0.1:*", frontend_bind=True) as relay,
        Subscriber(relay.backend, channel="c") as sub,
    ):
        sub.follow()
        first = peers("publisher.py", relay.frontend, "c", "a", str(RATE), str(COUNT), "listener")
        first.expect("ready")
        got: list[Message] = []
        lives: set[str | None] = set()
        pump(sub, got, lambda: sub.live == "a", DEADLINE_S)
        other = peers("publisher.py", relay.frontend, "c", "b", str(RATE), "0", "channel")
        other.expect("ready")

        def settled() -> bool:
            lives.add(sub.live)
            return bool(got) and accounted(sub) >= COUNT - got[0].seq + 1

        pump(sub, got, settled, DEADLINE_S)
        first.expect(f"sent {COUNT}", timeout=DEADLINE_S)
        assert lives == {"a"}, f"the follower flapped between sessions: {lives}"
        assert {m.session for m in got} == {"a"}
        stats = sub.stats
        assert stats.conflicts > 0
        assert accounted(sub) == COUNT - got[0].seq + 1, stats
        first.proc.send_signal(signum)
        pump(sub, got, lambda: sub.live == "b", 5.0)  # fails unless moved within 5 s
        pump(sub, got, lambda: bool(got) and got[-1].session == "b", DEADLINE_S)
        assert first.proc.wait(timeout=DEADLINE_S) == (0 if signum == signal.SIGTERM else -signum)


# -- 6. END through churn and a full queue ----------------------------------------------


def test_end_arrives_through_a_full_queue_and_session_churn() -> None:
    """A subscriber (hwm=100) tuned in to S stops reading; the publisher sends 10,000 on
    S, closes it, then opens and closes 50 other sessions. Once the subscriber reads,
    it learns S ended within 3 beacon intervals, and every message of S is yielded or
    counted: received + gaps + expired + fenced == 10,000 from the first one heard."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c", hwm=100) as sub,
    ):
        pub.open_session("S")
        sub.tune_in("S")
        assert pub.wait_for_listener("S", timeout=DEADLINE_S)
        for i in range(10_000):
            pub.send("S", b"%d." % i + PADDING)
        pub.close_session("S")
        for i in range(50):
            pub.open_session(f"churn{i}")
            pub.close_session(f"churn{i}")
        got: list[Message] = []
        pump(sub, got, lambda: not sub.sessions, END_REPEATS * BEACON_INTERVAL_S)
        got += drain(sub, quiet=0.1)
        stats = sub.stats
    assert got, "nothing of S was heard"
    assert stats.gaps > 0, "the queue never filled: the scenario did not happen"
    assert accounted(sub) == 10_000 - got[0].seq + 1, stats


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    """CLI processes started by the test; killed (and continued) at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.kill()
        proc.communicate(timeout=DEADLINE_S)


@pytest.mark.parametrize("paused", [False, True], ids=["reading", "sigstopped"])
def test_radio_sub_exits_once_its_session_ends_through_a_flood_and_churn(
    procs: list[subprocess.Popen[bytes]], paused: bool
) -> None:
    """radio-sub -s S --hwm 100 as a process (reading, or frozen by SIGSTOP while the
    publisher floods S, closes it and churns 50 sessions, then continued) exits 0
    within 5 s of the publisher closing S."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("S")
        sub = subprocess.Popen(
            [str(BIN / "radio-sub"), "-e", pub.endpoint, "-c", "c", "-s", "S", "--hwm", "100"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=default_sigint,
        )
        procs.append(sub)
        assert pub.wait_for_listener("S", timeout=DEADLINE_S)
        if paused:
            os.kill(sub.pid, signal.SIGSTOP)
        for i in range(10_000):
            pub.send("S", b"%d." % i + PADDING)
        pub.close_session("S")
        closed = time.monotonic()
        for i in range(50):
            pub.open_session(f"churn{i}")
            pub.close_session(f"churn{i}")
        if paused:
            os.kill(sub.pid, signal.SIGCONT)
        try:
            code = sub.wait(timeout=max(0.0, closed + 5.0 - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail("radio-sub still runs 5 s after its session was closed")
        err = sub.communicate(timeout=DEADLINE_S)[1].decode()
    assert code == 0, err
    assert "sessions_ended" in err


# -- 7. closing gives END its chance ------------------------------------------------------


def test_closing_waits_for_room_so_a_full_subscriber_still_gets_the_end() -> None:
    """A subscriber (hwm=10) is not reading and its queue is full when the publisher
    closes; once it starts reading (during the close's linger, bounded by the default
    1 s) it learns that the session ended within 2 s, with every message yielded or
    counted as a gap. (Its service thread takes every frame off the socket and drops
    past hwm, so it may learn the END before the application reads at all.)"""
    pub = Publisher("tcp://127.0.0.1:*", channel="c")
    try:
        with Subscriber(pub.endpoint, channel="c", hwm=10) as sub:
            pub.open_session("s")
            sub.tune_in("s")
            assert pub.wait_for_listener("s", timeout=DEADLINE_S)
            sent = 0
            for _ in range(20_000):
                sent = pub.send("s", b"x" * 1000)
            wait_until(lambda: sub.stats.received >= 10, what="the read-ahead to fill")
            closer = threading.Thread(target=pub.close)
            closer.start()
            # in close's last words (its service thread stopped, the lock held) or past them
            wait_until(
                lambda: not pub._service._thread.is_alive() and (pub._lock.locked() or pub._closed),
                what="the publisher to be closing",
            )
            got: list[Message] = []
            pump(sub, got, lambda: not sub.sessions, 2.0)
            got += drain(sub)  # decoded before the END (the service thread may have read it)
            closer.join(DEADLINE_S)
            stats = sub.stats
    finally:
        pub.close()
    assert got, "nothing was heard"
    assert stats.gaps > 0, "the queue never filled: the scenario did not happen"
    assert not sub.sessions
    assert accounted(sub) == sent - got[0].seq + 1, stats


CLOSE_LINGER_S = 1.0
CI_MARGIN_S = 1.0  # two cores shared with other jobs: scheduling, not the close, costs this
CLOSE_BOUND_S = CLOSE_LINGER_S + 1.0 + CI_MARGIN_S


def test_close_returns_within_linger_while_a_peer_churns_subscriptions(
    peers: Callable[..., Peer],
) -> None:
    """A raw peer in another process holds a listener on the session (it never reads
    the END, so it never tunes out) and subscribes and unsubscribes made-up listeners
    as fast as it can. close() with linger 1 s still returns within linger + 1 s
    (CLOSE_BOUND_S adds CI_MARGIN_S for a loaded machine): it stops reading the
    churn's events at its deadline instead of until they run out."""
    heard = [0]  # listener events seen: the churn reaching the publisher
    pub = Publisher(
        "tcp://127.0.0.1:*",
        channel="c",
        linger=CLOSE_LINGER_S,
        on_listener=lambda event: heard.__setitem__(0, heard[0] + 1),
    )
    churner = peers("churner.py", pub.endpoint, "c", "s")
    closer = threading.Thread(target=pub.close, daemon=True)
    try:
        pub.open_session("s")
        churner.expect("ready")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        wait_until(lambda: heard[0] > 1000, what="the churn to reach the publisher")
        start = time.monotonic()
        closer.start()
        closer.join(CLOSE_BOUND_S)
        took = time.monotonic() - start
        assert not closer.is_alive(), f"close() still running after {took:.1f} s"
        assert took < CLOSE_BOUND_S
    finally:
        churner.stop()  # ends the churn: an unbounded close (the bug) can then finish
        closer.join(DEADLINE_S)
        pub.close()
