"""asyncio twins of Publisher and Subscriber: the same core, awaitable waits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from functools import partial
from types import TracebackType
from typing import Final, Self, Unpack

from radio.core.ready import CHUNK
from radio.desk import REQUEST_TIMEOUT_S
from radio.errors import ClosedError
from radio.message import Message, Stats
from radio.publisher import Publisher
from radio.settings import (
    JoinSettings,
    PublisherSettings,
    SubscriberSettings,
    next_wait,
    validate_timeout,
)
from radio.subscriber import POLL_SLICE_S, Subscriber

_INF: Final[float] = float("inf")


class _Async:
    """What both twins share: closing, ``async with``, repr, endpoint and channel.

    They come from the sync object the twin drives (``_inner``).
    """

    _inner: Publisher | Subscriber

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<Async" + repr(self._inner)[1:]

    @property
    def endpoint(self) -> str:
        """The bound or connected endpoint (the real port for ``*``)."""
        return self._inner.endpoint

    @property
    def channel(self) -> str:
        """The channel."""
        return self._inner.channel

    def close(self) -> None:
        """Close the socket (see the sync class)."""
        self._inner.close()


class AsyncPublisher(_Async):
    """`radio.Publisher` for asyncio: ``await wait_for_listener(...)``, ``async with``.

    It drives a `Publisher` (same constructor arguments): sending never blocks,
    so `send`, `open_session` and `close_session` stay plain methods; only waiting
    is awaitable. radio's service thread keeps presence and beacons right even
    while the event loop is busy.
    """

    def __init__(self, endpoint: str, **settings: Unpack[PublisherSettings]) -> None:
        self._pub = self._inner = Publisher(endpoint, **settings)
        self._wakers: set[Callable[[], None]] = set()  # of the waits in progress

    @property
    def sessions(self) -> tuple[str, ...]:
        """The open sessions, oldest first."""
        return self._pub.sessions

    @property
    def live(self) -> str | None:
        """The live session (the newest open one), or None."""
        return self._pub.live

    def open_session(self, session: str | None = None) -> str:
        """See `Publisher.open_session`."""
        return self._pub.open_session(session)

    def close_session(self, session: str) -> None:
        """See `Publisher.close_session`."""
        self._pub.close_session(session)

    def send(self, session: str, payload: bytes, ttl: float | None = None) -> int:
        """See `Publisher.send` (never blocks)."""
        return self._pub.send(session, payload, ttl)

    def send_many(self, session: str, payloads: Iterable[bytes], ttl: float | None = None) -> int:
        """See `Publisher.send_many` (never blocks)."""
        return self._pub.send_many(session, payloads, ttl)

    def flush(self) -> None:
        """See `Publisher.flush`."""
        self._pub.flush()

    def last_seq(self, session: str) -> int:
        """See `Publisher.last_seq`."""
        return self._pub.last_seq(session)

    def desk_session(self, client: str) -> str | None:
        """See `Publisher.desk_session`."""
        return self._pub.desk_session(client)

    def listeners(self, session: str) -> int:
        """See `Publisher.listeners`."""
        return self._pub.listeners(session)

    def channel_listeners(self) -> int:
        """See `Publisher.channel_listeners`."""
        return self._pub.channel_listeners()

    async def wait_for_listener(
        self, session: str, timeout: float | None = None, *, count: int = 1
    ) -> bool:
        """Wait, without blocking the loop, until *session* has *count* listeners.

        Returns False on timeout.

        It sleeps until the publisher reports a change of presence (`Publisher.watch`),
        then counts again.
        """
        timeout_s = validate_timeout(timeout)
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def wake() -> None:  # from radio's service thread, or from close()
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed between check and call
                    loop.call_soon_threadsafe(changed.set)

        unwatch = self._pub.watch(wake)
        self._wakers.add(wake)
        try:
            async with asyncio.timeout(timeout_s):  # None: no deadline
                while True:
                    changed.clear()  # before counting: a change from now on is not lost
                    if self._pub.listeners(session) >= count:
                        return True
                    await changed.wait()
        except TimeoutError:
            return False
        finally:
            self._wakers.discard(wake)
            unwatch()

    def close(self) -> None:
        """See `Publisher.close`; a `wait_for_listener` in progress raises `ClosedError`."""
        self._pub.close()
        for wake in list(self._wakers):
            wake()


class AsyncSubscriber(_Async):
    """`radio.Subscriber` for asyncio: ``await recv(timeout)``, ``async for``, ``async with``.

    It drives a `Subscriber` (same constructor arguments) and waits for the
    socket, or for radio's service thread to have read messages ahead, without
    blocking the event loop.
    """

    def __init__(self, endpoint: str, **settings: Unpack[SubscriberSettings]) -> None:
        self._adopt(Subscriber(endpoint, **settings))

    def _adopt(self, sub: Subscriber) -> None:
        self._sub = self._inner = sub
        self._ready = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = sub.fileno()

    @classmethod
    async def join(
        cls,
        desk: str,
        client: str,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        **settings: Unpack[JoinSettings],
    ) -> AsyncSubscriber:
        """See `Subscriber.join`: the desk's answer is awaited off the event loop."""
        join = partial(Subscriber.join, desk, client, timeout=timeout, **settings)
        sub = await asyncio.get_running_loop().run_in_executor(None, join)
        wrapper = cls.__new__(cls)
        wrapper._adopt(sub)
        return wrapper

    @property
    def sessions(self) -> frozenset[str]:
        """See `Subscriber.sessions`."""
        return self._sub.sessions

    @property
    def following(self) -> bool:
        """See `Subscriber.following`."""
        return self._sub.following

    @property
    def live(self) -> str | None:
        """See `Subscriber.live`."""
        return self._sub.live

    @property
    def on_air(self) -> bool:
        """See `Subscriber.on_air`."""
        return self._sub.on_air

    @property
    def unread(self) -> int:
        """See `Subscriber.unread` (messages read ahead, never yielded, when it closed)."""
        return self._sub.unread

    @property
    def stats(self) -> Stats:
        """See `Subscriber.stats`."""
        return self._sub.stats

    def tune_in(self, session: str) -> None:
        """See `Subscriber.tune_in`."""
        self._sub.tune_in(session)

    def tune_out(self, session: str) -> None:
        """See `Subscriber.tune_out`."""
        self._sub.tune_out(session)

    def follow(self) -> None:
        """See `Subscriber.follow`."""
        self._sub.follow()

    def unfollow(self) -> None:
        """See `Subscriber.unfollow`."""
        self._sub.unfollow()

    async def recv(self, timeout: float | None = None) -> Message | None:
        """The next message heard, or None after *timeout* seconds (None: wait for ever)."""
        if timeout is not None and not (timeout.__class__ is float and 0.0 <= timeout < _INF):
            timeout = validate_timeout(timeout)
        message = self._sub.recv(0.0)  # the hot path: something is ready, no waiting
        if message is not None:
            return message
        timeout_s = timeout
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._bind(loop)
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while True:
            self._ready.clear()  # before trying: a wake-up from now on is not lost
            message = self._sub.recv(0)
            if message is not None:
                return message
            wait = next_wait(deadline, loop.time(), POLL_SLICE_S)
            if wait is None:
                return None
            await self._readable(loop, wait)

    async def recv_many(
        self, max_count: int = CHUNK, timeout: float | None = None
    ) -> list[Message]:
        """Up to *max_count* messages heard, or ``[]`` after *timeout* seconds.

        See `Subscriber.recv_many`: every message ready is taken under one lock.
        """
        messages = self._sub.recv_many(max_count, 0.0)
        if messages:
            return messages
        first = await self.recv(timeout)
        if first is None:
            return []
        return [first, *self._sub.recv_many(max_count - 1, 0.0)] if max_count > 1 else [first]

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait on *loop* from now on; the service thread wakes it when it read ahead."""
        self._loop = loop
        ready = self._ready = asyncio.Event()  # an Event belongs to one loop

        def wake() -> None:
            if not loop.is_closed():
                with contextlib.suppress(RuntimeError):  # closed between check and call
                    loop.call_soon_threadsafe(ready.set)

        self._sub.set_wakeup(wake)

    async def _readable(self, loop: asyncio.AbstractEventLoop, wait: float) -> None:
        """Wait at most *wait* seconds for the socket (edge-triggered FD) or a wake-up."""
        fd = self._fd
        loop.add_reader(fd, self._ready.set)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), wait)
        finally:
            loop.remove_reader(fd)

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[Message]:
        while True:
            try:
                message = await self.recv()
            except ClosedError:
                return
            if message is not None:
                yield message

    def close(self) -> None:
        """See `Subscriber.close`."""
        self._sub.set_wakeup(None)
        self._sub.close()


__all__ = [
    "AsyncPublisher",
    "AsyncSubscriber",
    "JoinSettings",
    "PublisherSettings",
    "SubscriberSettings",
]
