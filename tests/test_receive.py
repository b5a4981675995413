"""The receive path in chunks: recv, recv_many and iteration take many under one lock."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import radio.compiled
import radio.subscriber
from radio import Message, Publisher, Subscriber
from radio.aio import AsyncPublisher, AsyncSubscriber
from tests.helpers import DEADLINE_S, recv_all, tuned, wait_until


def _ready(pub: Publisher, sub: Subscriber, count: int, session: str = "s1") -> None:
    """Send *count* messages and wait until the subscriber has decoded them all."""
    for i in range(count):
        pub.send(session, b"%d" % i)
    wait_until(lambda: len(sub._queue.queue) >= count, what=f"{count} messages read ahead")


def test_recv_many_takes_everything_ready_in_order() -> None:
    """recv_many returns up to max_count in order; [] after its timeout."""
    with tuned() as (pub, sub):
        _ready(pub, sub, 300)
        first = sub.recv_many(256, timeout=DEADLINE_S)
        rest = sub.recv_many(256, timeout=DEADLINE_S)
        assert [m.seq for m in first + rest] == list(range(1, 301))
        assert len(first) == 256
        assert sub.recv_many(10, timeout=0.05) == []


def test_iteration_stopped_early_loses_nothing() -> None:
    """Breaking out of `for m in sub` gives back what it took but did not yield."""
    with tuned() as (pub, sub):
        _ready(pub, sub, 100)
        seen = []
        for message in sub:
            seen.append(message.seq)
            if len(seen) == 10:
                break
        assert [m.seq for m in recv_all(sub, 90)] == list(range(11, 101))
        assert sub.stats.fenced == 0


def _two_sessions(pub: Publisher, sub: Subscriber, each: int, ttl: float | None = None) -> None:
    """Open s1 and s2, tune in to both, send *each* on each (interleaved), wait for all."""
    pub.open_session("s1")
    pub.open_session("s2")
    sub.tune_in("s1")
    sub.tune_in("s2")
    assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
    assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
    for i in range(each):
        pub.send("s1", b"one %d" % i, ttl)
        pub.send("s2", b"two %d" % i, ttl)
    wait_until(lambda: len(sub._queue.queue) >= 2 * each, what=f"{2 * each} messages read ahead")


def test_a_retune_during_iteration_fences_what_was_taken() -> None:
    """Tuning out while iterating: messages of that session already taken are not
    yielded (counted fenced), those of a session still heard are."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        _two_sessions(pub, sub, 20)
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


def test_a_retune_right_after_a_chunk_was_taken_still_fences_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A retune that lands after iteration took a chunk and before it yields from it:
    the chunk's messages of the session tuned out are fenced, none is yielded."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        _two_sessions(pub, sub, 20)
        take = sub._chunk  # what iteration takes a chunk with, and its generation

        def take_then_retune() -> tuple[int, list[Message]]:
            chunk = take()
            if sub.sessions == {"s1", "s2"}:
                sub.tune_out("s1")  # another thread's retune, landing right here
            return chunk

        monkeypatch.setattr(sub, "_chunk", take_then_retune)
        yielded = []
        for message in sub:
            yielded.append(message)
            if sum(m.session == "s2" for m in yielded) == 20:
                break
        assert [m.seq for m in yielded if m.session == "s1"] == []
        assert sub.stats.fenced == 20


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


def test_recv_takes_a_chunk_and_a_retune_fences_what_it_took() -> None:
    """recv takes many under the lock and pops the rest without it; tuning out fences
    the taken messages of that session: none is returned, each is counted."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        _two_sessions(pub, sub, 50)
        first = sub.recv(DEADLINE_S)
        assert first is not None
        assert (first.session, first.seq) == ("s1", 1)  # sent first, on one connection
        assert len(sub._queue.taken) >= 90  # the next ones wait to be popped without the lock
        sub.tune_out("s1")
        rest = recv_all(sub, 50)
        assert [(m.session, m.seq) for m in rest] == [("s2", seq) for seq in range(1, 51)]
        assert sub.stats.fenced == 49
        assert sub.recv(0.05) is None


def test_recv_checks_the_ttl_of_a_taken_message_as_it_returns_it() -> None:
    """A message taken while fresh and expired by the time it is asked for is dropped."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        _two_sessions(pub, sub, 20, ttl=1.0)
        first = sub.recv(DEADLINE_S)
        assert first is not None
        assert len(sub._queue.taken) >= 30
        deadline = first.sent_at + 1.0
        wait_until(lambda: time.time() > deadline + 0.05, what="the TTL to pass")
        assert sub.recv(0.05) is None
        assert sub.stats.expired == 39


def test_iteration_checks_the_ttl_of_a_taken_message_as_it_yields_it() -> None:
    """Iteration takes a chunk while its messages are fresh; those expired by the time
    the loop reaches them are not yielded, and are counted expired."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        _two_sessions(pub, sub, 20, ttl=1.0)
        pub.send("s1", b"no ttl")  # the 41st: never expires
        wait_until(lambda: len(sub._queue.queue) >= 41, what="41 messages read ahead")
        yielded = []
        for message in sub:
            yielded.append(message)
            if len(yielded) == 1:
                deadline = message.sent_at + 1.05
                wait_until(lambda: time.time() > deadline, what="the TTL to pass")  # noqa: B023
            if message.payload == b"no ttl":
                break
        assert [m.payload for m in yielded] == [b"one 0", b"no ttl"]
        assert sub.stats.expired == 39


def test_a_built_subscriber_receives_and_iterates_in_c() -> None:
    """With the hot loops built, recv and iteration are their C twins (a subclass
    that overrides either keeps its own)."""
    hot = radio.subscriber.HOT
    if hot is None:
        pytest.skip(f"the hot loops are not built here: {radio.compiled.HOT_REASON}")

    class Mine(Subscriber):
        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter(())

    with (
        Subscriber("inproc://c-twins", channel="c") as sub,
        Mine("inproc://c-mine", channel="c") as mine,
    ):
        assert isinstance(iter(sub), hot.Iteration)
        assert isinstance(sub.recv.__self__, hot.Receiver)
        assert list(mine) == []


def test_readers_on_several_threads_get_each_message_once() -> None:
    """Threads calling recv at once share the taken chunk: none lost, none twice."""
    with tuned(pub={"hwm": 0}, sub={"hwm": 0}) as (pub, sub):
        got: list[list[Message]] = [[], [], []]
        done = threading.Event()

        def read(mine: list[Message]) -> None:
            while not done.is_set():
                message = sub.recv(0.05)
                if message is not None:
                    mine.append(message)

        readers = [threading.Thread(target=read, args=(mine,)) for mine in got]
        for reader in readers:
            reader.start()
        try:
            for i in range(5000):
                pub.send("s1", b"%d" % i)
            wait_until(lambda: sum(map(len, got)) >= 5000, what="5000 messages read")
        finally:
            done.set()
            for reader in readers:
                reader.join(DEADLINE_S)
        seqs = sorted(m.seq for mine in got for m in mine)
        assert seqs == list(range(1, 5001))
        for mine in got:
            assert [m.seq for m in mine] == sorted(m.seq for m in mine)  # each thread in order


def test_closing_while_iterating_yields_nothing_more_and_counts_the_rest_unread() -> None:
    """close() inside a for loop over the subscriber: the loop yields nothing after
    it, and what the loop had taken is counted unread."""
    with tuned() as (pub, sub):
        _ready(pub, sub, 100)
        after = 0
        for message in sub:
            if message.seq == 1:
                sub.close()
            else:
                after += 1
        assert after == 0
        assert sub.unread == 99
        assert sub.stats.received == 100


def test_close_counts_taken_messages_as_unread() -> None:
    """Messages taken for recv and never returned are unread at close, not dropped."""
    with tuned() as (pub, sub):
        _ready(pub, sub, 100)
        assert sub.recv(DEADLINE_S) is not None
        sub.close()
        assert sub.unread == 99
        assert sub.stats.received == 100


def test_asyncio_close_counts_unread_messages() -> None:
    """AsyncSubscriber.unread: what was read ahead and never awaited, once closed."""

    async def main() -> int:
        with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
            pub.open_session("s1")
            sub = AsyncSubscriber(pub.endpoint, channel="c")
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.send_many("s1", [b"%d" % i for i in range(30)])
            first = await sub.recv(DEADLINE_S)
            assert first is not None
            wait_until(lambda: sub.stats.received == 30, what="30 messages read ahead")
            sub.close()
            return sub.unread

    assert asyncio.run(main()) == 29


def test_the_service_thread_leaves_the_socket_to_a_reading_application(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Within a service interval of the application's last read, a service pass reads
    nothing (the application services the socket); after it, it reads ahead."""
    with tuned() as (pub, sub):
        sub._service.stop()  # service passes are made by hand below
        assert sub.recv(0) is None  # the application reads the socket: nothing there
        pub.send_many("s1", [b"%d" % i for i in range(5)])
        with sub._lock:
            wait_until(lambda: sub._socket.poll(0), what="frames waiting on the socket")
            monkeypatch.setattr(radio.subscriber, "SERVICE_INTERVAL_S", 3600.0)
            sub._service_locked()
            assert len(sub._queue.queue) == 0  # the application read within the interval
            monkeypatch.setattr(radio.subscriber, "SERVICE_INTERVAL_S", 0.0)
            sub._service_locked()
            assert len(sub._queue.queue) >= 1  # nobody read lately: it reads ahead

            def passes() -> bool:  # the rest may still be on their way
                sub._service_locked()
                return len(sub._queue.queue) == 5

            wait_until(passes, what="every frame read ahead")
        assert [m.seq for m in recv_all(sub, 5)] == [1, 2, 3, 4, 5]
