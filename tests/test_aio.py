"""radio.aio: the asyncio twins keep the same guarantees as the sync classes."""

from __future__ import annotations

import asyncio
import inspect
import time
from pathlib import Path
from typing import Any

import pytest

from radio import ClosedError, Publisher, SocketOptions, Subscriber
from radio.aio import (
    AsyncPublisher,
    AsyncSubscriber,
    JoinSettings,
    PublisherSettings,
    SubscriberSettings,
)
from tests.helpers import DEADLINE_S, free_tcp_endpoint, retry_bind

pytestmark = pytest.mark.asyncio


async def recv_n(sub: AsyncSubscriber, count: int) -> list[bytes]:
    got = []
    async with asyncio.timeout(DEADLINE_S):
        while len(got) < count:
            message = await sub.recv(timeout=DEADLINE_S)
            if message is not None:
                got.append(message)
    return [m.payload for m in got]


async def test_messages_arrive_in_order() -> None:
    """await recv yields every message of the tuned session, in order."""
    async with (
        AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub,
        AsyncSubscriber(pub.endpoint, channel="c") as sub,
    ):
        session = pub.open_session()
        sub.tune_in(session)
        assert await pub.wait_for_listener(session, timeout=DEADLINE_S)
        for i in range(500):
            pub.send(session, b"%d" % i)
        assert await recv_n(sub, 500) == [b"%d" % i for i in range(500)]
        assert sub.stats.received == 500


async def test_large_payloads_arrive_whole() -> None:
    """Two-part messages (payloads over wire.PART_THRESHOLD) reach an AsyncSubscriber
    whole, in order with small ones, as bytes."""
    from radio.core.wire import PART_THRESHOLD

    payloads = [b"x" * (PART_THRESHOLD + i) if i % 2 else b"%d" % i for i in range(40)]
    async with (
        AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub,
        AsyncSubscriber(pub.endpoint, channel="c") as sub,
    ):
        session = pub.open_session()
        sub.tune_in(session)
        assert await pub.wait_for_listener(session, timeout=DEADLINE_S)
        for payload in payloads:
            pub.send(session, payload)
        got = await recv_n(sub, len(payloads))
        assert got == payloads
        assert all(type(p) is bytes for p in got)
        assert (sub.stats.received, sub.stats.malformed) == (len(payloads), 0)


async def test_recv_times_out_without_blocking_the_loop() -> None:
    """A timeout returns None, and other tasks run meanwhile."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)  # sync-ok: the ticker's period, not a wait

    async with AsyncPublisher("tcp://127.0.0.1:*") as pub, AsyncSubscriber(pub.endpoint) as sub:
        sub.tune_in("s1")
        task = asyncio.create_task(ticker())
        assert await sub.recv(timeout=0.3) is None
        task.cancel()
    assert ticks >= 5  # the loop kept running while recv waited


async def test_a_subscriber_busy_elsewhere_is_seen_and_hears_the_first_message() -> None:
    """Guarantee 4 with asyncio: the loop busy in other work, the subscriber still tunes in."""
    address = free_tcp_endpoint()
    sub = retry_bind(lambda: AsyncSubscriber(address, channel="c", bind=True))
    try:
        sub.tune_in("s1")
        async with AsyncPublisher(address, channel="c", bind=False) as pub:
            pub.open_session("s1")
            assert await pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.send("s1", b"first")
            assert await recv_n(sub, 1) == [b"first"]
    finally:
        sub.close()


async def test_follow_and_async_for_switch_sessions_without_mixing() -> None:
    """async for over a follower: the new session only, once it opened."""
    async with (
        AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub,
        AsyncSubscriber(pub.endpoint, channel="c") as sub,
    ):
        sub.follow()
        pub.open_session("s1")
        assert await pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.open_session("s2")
        assert await pub.wait_for_listener("s2", timeout=DEADLINE_S)
        for i in range(20):
            pub.send("s1", b"old %d" % i)
            pub.send("s2", b"new %d" % i)
        heard = []
        async with asyncio.timeout(DEADLINE_S):
            async for message in sub:
                heard.append((message.session, message.seq))
                if len(heard) == 20:
                    break
        assert heard == [("s2", i) for i in range(1, 21)]


async def test_retune_never_yields_queued_old_messages() -> None:
    """Old-session messages still queued at a retune are never yielded."""
    async with (
        AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub,
        AsyncSubscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        pub.open_session("s2")
        sub.tune_in("s1")
        sub.tune_in("s2")
        assert await pub.wait_for_listener("s1", timeout=DEADLINE_S)
        assert await pub.wait_for_listener("s2", timeout=DEADLINE_S)
        for i in range(200):
            pub.send("s1", b"old %d" % i)
        pub.send("s2", b"marker")
        sub.tune_out("s1")
        assert await recv_n(sub, 1) == [b"marker"]


async def test_closing_ends_async_iteration() -> None:
    """async for stops when the subscriber is closed from another task."""
    async with AsyncPublisher("tcp://127.0.0.1:*") as pub:
        sub = AsyncSubscriber(pub.endpoint)
        sub.tune_in("s1")

        async def consume() -> int:
            return len([m async for m in sub])

        task = asyncio.create_task(consume())
        await asyncio.sleep(0)  # sync-ok: one yield; the consumer ends either way
        sub.close()
        assert await asyncio.wait_for(task, DEADLINE_S) == 0


async def test_join_the_desk_from_asyncio() -> None:
    """AsyncSubscriber.join: a fresh session from the desk, heard without blocking the loop."""
    desk = free_tcp_endpoint()
    async with AsyncPublisher("tcp://127.0.0.1:*", channel="c", desk=desk) as pub:
        sub = await AsyncSubscriber.join(desk, "async-client")
        try:
            session = pub.desk_session("async-client")
            assert session is not None
            assert sub.sessions == frozenset({session})
            assert await pub.wait_for_listener(session, timeout=DEADLINE_S)
            pub.send(session, b"hello")
            assert await recv_n(sub, 1) == [b"hello"]
        finally:
            sub.close()


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_one_subscriber_can_be_used_from_two_event_loops() -> None:
    """asyncio.run twice over the same AsyncSubscriber: each loop gets its own waits."""
    pub = AsyncPublisher("tcp://127.0.0.1:*", channel="c")
    sub = AsyncSubscriber(pub.endpoint, channel="c")
    try:
        pub.open_session("s1")
        sub.tune_in("s1")

        async def round_trip(payload: bytes) -> list[bytes]:
            assert await pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.send("s1", payload)
            return await recv_n(sub, 1)

        assert asyncio.run(round_trip(b"first loop")) == [b"first loop"]
        assert asyncio.run(round_trip(b"second loop")) == [b"second loop"]
    finally:
        sub.close()
        pub.close()


async def test_wait_for_listener_returns_promptly_once_a_subscriber_tunes_in() -> None:
    """Woken by the presence change, not by a polling period: well under a second."""
    async with (
        AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub,
        AsyncSubscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        waiting = asyncio.create_task(pub.wait_for_listener("s1", timeout=DEADLINE_S))
        await asyncio.sleep(0)  # sync-ok: one yield so that the wait starts first
        assert not waiting.done()
        tuned_in = time.monotonic()
        sub.tune_in("s1")
        assert await asyncio.wait_for(waiting, DEADLINE_S)
        assert time.monotonic() - tuned_in < 1.0


async def test_wait_for_listener_times_out_without_polling() -> None:
    """False at the deadline; meanwhile presence is counted once, not every few ms."""
    async with AsyncPublisher("tcp://127.0.0.1:*", channel="c") as pub:
        counts = 0
        listeners = pub._pub.listeners

        def counting(session: str) -> int:
            nonlocal counts
            counts += 1
            return listeners(session)

        pub._pub.listeners = counting  # type: ignore[method-assign]
        started = time.monotonic()
        assert await pub.wait_for_listener("nobody", timeout=0.3) is False
        assert 0.3 <= time.monotonic() - started < DEADLINE_S
        assert counts <= 2  # a polling loop at the service interval would count ~15 times


async def test_closing_the_publisher_ends_a_wait_for_listener() -> None:
    """A wait in progress raises ClosedError at once when the publisher closes."""
    pub = AsyncPublisher("tcp://127.0.0.1:*", channel="c")
    waiting = asyncio.create_task(pub.wait_for_listener("s1"))
    await asyncio.sleep(0)  # sync-ok: one yield so that the wait starts first
    pub.close()
    with pytest.raises(ClosedError):
        await asyncio.wait_for(waiting, DEADLINE_S)


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
@pytest.mark.parametrize(
    ("settings", "cls", "dropped"),
    [
        (PublisherSettings, Publisher, set()),
        (SubscriberSettings, Subscriber, set()),
        (JoinSettings, Subscriber, {"channel"}),
    ],
)
def test_settings_typeddicts_list_every_constructor_keyword(
    settings: Any, cls: type, dropped: set[str]
) -> None:
    """The TypedDicts follow the sync constructors: a keyword added there must be added here.

    The socket keywords come in as ``**options``, typed by `SocketOptions`."""
    parameters = inspect.signature(cls).parameters.values()
    keywords = {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY}
    assert [p.name for p in parameters if p.kind is inspect.Parameter.VAR_KEYWORD] == ["options"]
    keywords |= SocketOptions.__optional_keys__
    assert settings.__optional_keys__ | settings.__required_keys__ == keywords - dropped


_TYPED_CALLS = """
from radio import Subscriber
from radio.aio import AsyncPublisher, AsyncSubscriber

def calls() -> None:
    AsyncPublisher("tcp://127.0.0.1:*", channel="c", hwm=10, connect_timeout=1.0)
    AsyncSubscriber("tcp://127.0.0.1:*", channel="c", hwm="10")
    AsyncSubscriber("tcp://127.0.0.1:*", chanel="c")
    Subscriber.join("tcp://127.0.0.1:1", "me", reconnect_interval="soon")
"""


@pytest.mark.filterwarnings("ignore::pytest.PytestWarning")
def test_mypy_checks_the_keywords_of_the_typed_constructors(tmp_path: Path) -> None:
    """mypy accepts a good call and names each bad keyword or type (PEP 692 Unpack)."""
    api = pytest.importorskip("mypy.api")
    snippet = tmp_path / "snippet.py"
    snippet.write_text(_TYPED_CALLS)
    out, _, status = api.run(["--strict", "--cache-dir", str(tmp_path / "cache"), str(snippet)])
    errors = [line for line in out.splitlines() if ": error:" in line]
    assert status == 1
    assert [line.split(":")[1] for line in errors] == ["7", "8", "9"], out
    assert '"hwm"' in errors[0]
    assert '"chanel"' in errors[1]
    assert '"reconnect_interval"' in errors[2]
