"""The receive path in chunks: recv_many, and iteration that takes many under one lock."""

from __future__ import annotations

import asyncio

from radio import Publisher, Subscriber
from radio.aio import AsyncPublisher, AsyncSubscriber
from tests.helpers import DEADLINE_S, recv_all, wait_until


def _ready(pub: Publisher, sub: Subscriber, count: int, session: str = "s1") -> None:
    """Send *count* messages and wait until the subscriber has decoded them all."""
    for i in range(count):
        pub.send(session, b"%d" % i)
    wait_until(lambda: len(sub._ready) >= count, what=f"{count} messages read ahead")


def test_recv_many_takes_everything_ready_in_order() -> None:
    """recv_many returns up to max_count in order; [] after its timeout."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        _ready(pub, sub, 300)
        first = sub.recv_many(256, timeout=DEADLINE_S)
        rest = sub.recv_many(256, timeout=DEADLINE_S)
        assert [m.seq for m in first + rest] == list(range(1, 301))
        assert len(first) == 256
        assert sub.recv_many(10, timeout=0.05) == []


def test_iteration_stopped_early_loses_nothing() -> None:
    """Breaking out of `for m in sub` gives back what it took but did not yield."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        _ready(pub, sub, 100)
        seen = []
        for message in sub:
            seen.append(message.seq)
            if len(seen) == 10:
                break
        assert [m.seq for m in recv_all(sub, 90)] == list(range(11, 101))
        assert sub.stats.fenced == 0


def test_a_retune_during_iteration_fences_what_was_taken() -> None:
    """Tuning out while iterating: messages of that session already taken are not
    yielded (counted fenced), those of a session still heard are."""
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
        for i in range(20):
            pub.send("s1", b"one %d" % i)
            pub.send("s2", b"two %d" % i)
        wait_until(lambda: len(sub._ready) >= 40, what="40 messages read ahead")
        yielded = []
        for message in sub:
            yielded.append(message)
            if len(yielded) == 1:
                sub.tune_out("s1")
            if sum(m.session == "s2" for m in yielded) == 20:
                break
        after = [m for m in yielded[1:] if m.session == "s1"]
        assert after == []
        assert sub.stats.fenced == 19


def test_asyncio_recv_many() -> None:
    """The asyncio twins send and take many at once too."""

    async def main() -> list[int]:
        async with AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub:
            pub.open_session("s1")
            async with AsyncSubscriber(pub.endpoint, channel="c") as sub:
                sub.tune_in("s1")
                assert await pub.wait_for_listener("s1", timeout=DEADLINE_S)
                assert pub.send_many("s1", [b"%d" % i for i in range(50)]) == 50
                seqs: list[int] = []
                while len(seqs) < 50:
                    seqs += [m.seq for m in await sub.recv_many(64, timeout=DEADLINE_S)]
                return seqs

    assert asyncio.run(main()) == list(range(1, 51))
