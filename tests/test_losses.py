"""Slow and absent subscribers: the publisher never blocks or grows; losses are counted."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable

from radio import Message, Publisher
from tests.helpers import DEADLINE_S, Peer, drain, recv_all, tuned, wait_until


def test_a_stalled_subscriber_costs_at_most_its_hwm_and_counts_the_gap() -> None:
    """Nobody reads: sends never block, and what is heard later adds up with the gaps."""
    with tuned(pub={"hwm": 100}, sub={"hwm": 100}) as (pub, sub):
        sent = 50_000
        for _ in range(sent):
            pub.send("s1", b"x" * 100)
        pub.close_session("s1")  # END carries the last seq: the tail loss is counted too
        heard: list[Message] = []

        def session_ended() -> bool:
            heard.extend(drain(sub, quiet=0.05))
            return not sub.sessions

        wait_until(session_ended, what="the END of the session (repeated with beacons)")
        seqs = [m.seq for m in heard]
        assert seqs == sorted(seqs)
        assert len(heard) < sent  # dropped at the high-water marks, not queued for ever
        stats = sub.stats
        assert stats.received == len(heard)
        assert stats.received + stats.gaps == sent - seqs[0] + 1


def test_hwm_0_holds_every_message_an_idle_reader_has_not_read() -> None:
    """``hwm=0`` is no limit on both sides, as in ZeroMQ: nothing is dropped while nobody reads.

    The subscriber's service thread decodes 20 times ``DEFAULT_HWM`` messages while the
    application reads none; each is then yielded, with no gap.
    """
    with tuned(pub={"hwm": 0}, sub={"hwm": 0}) as (pub, sub):
        sent = 20_000
        for _ in range(sent):
            pub.send("s1", b"x" * 100)
        wait_until(lambda: sub.stats.received >= sent, what="every message decoded, none read")
        heard = recv_all(sub, sent)
        assert [m.seq for m in heard] == list(range(1, sent + 1))
        assert sub.stats.gaps == 0


def test_ttl_expired_messages_are_never_yielded() -> None:
    """Messages that outlive their TTL while queued are dropped and counted as expired."""
    with tuned() as (pub, sub):
        for _ in range(20):
            pub.send("s1", b"short-lived", ttl=0.05)
        pub.send("s1", b"durable")
        expiry = time.monotonic() + 0.1
        wait_until(lambda: time.monotonic() > expiry, what="the TTL to pass")
        got = recv_all(sub, 1)
        assert got[0].payload == b"durable"
        assert sub.stats.expired == 20
        assert got[0].seq == 21  # expiry is not a gap
        assert sub.stats.gaps == 0


def _rss_bytes() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_publisher_memory_stays_flat_with_a_frozen_subscriber(
    peers: Callable[..., Peer],
) -> None:
    """A subscriber process stopped with SIGSTOP costs the publisher its HWM, not more."""
    with Publisher("tcp://127.0.0.1:*", channel="c", hwm=1000) as pub:
        pub.open_session("s1")
        peer = peers("subscriber.py", pub.endpoint, "c", "s1", "connect")
        peer.expect("ready")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        os.kill(peer.proc.pid, signal.SIGSTOP)
        try:
            payload = b"x" * 1000
            for _ in range(20_000):  # warm up: fill every queue on the way
                pub.send("s1", payload)
            before = _rss_bytes()
            for _ in range(200_000):  # 200 MB offered to a frozen listener
                pub.send("s1", payload)
            growth = _rss_bytes() - before
        finally:
            os.kill(peer.proc.pid, signal.SIGCONT)
        assert growth < 16 * 1024 * 1024, f"publisher grew by {growth / 2**20:.1f} MiB"


def test_conflate_keeps_only_the_latest_message() -> None:
    """conflate=True: a subscriber that was busy hears the newest message, not a backlog."""
    with tuned(pub={"beacon_interval": 60.0}, sub={"conflate": True}) as (pub, sub):
        for i in range(1, 501):  # fewer than the HWM: ZeroMQ drops the newest beyond it
            pub.send("s1", b"value %d" % i)
        pub.send("s1", b"last")
        heard = drain(sub, quiet=0.3)
        assert heard[-1].payload == b"last"
        assert len(heard) < 501
        assert [m.seq for m in heard] == sorted(m.seq for m in heard)
        stats = sub.stats
        assert stats.received - stats.conflated == len(heard)
        assert stats.conflated > 0
