"""The systems under test: how each one publishes and subscribes, in its usual way."""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import structlog
import zmq

from .record import (
    HEAR_FIRST_TIMEOUT_S,
    CallbackRecorder,
    Received,
    async_receive_loop,
    receive_loop,
)
from .silence import iterating

TOPIC: Final[bytes] = b"bench/s1/"
"""Topic of the raw ZeroMQ systems (the same length radio's topic has)."""
CHANNEL: Final[str] = "bench"
SESSION: Final[str] = "s1"
HEADER_BYTES: Final[int] = 34
"""Bytes of radio's frame header after the topic (``radio.core.wire.HEADER``; a test checks)."""

Send = Callable[[bytes], Any]


@dataclass(frozen=True)
class Address:
    """Where a run's publisher and subscribers meet."""

    endpoint: str = ""  # ZeroMQ systems
    port: int = 0  # brokers
    hwm: int = 0  # ZeroMQ systems: 0 (nothing dropped) to measure speed, the default for memory


def _quiet_library_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


class System:
    """A publish/subscribe system measured by the benchmark."""

    name: str = ""
    label: str = ""
    server: str | None = None  # the broker it needs, if any
    pure: bool = False  # radio's pure-Python cores (RADIO_PURE=1) rather than the compiled ones
    hwm_note: str = ""
    phases: frozenset[str] | None = None  # the phases it is measured in (None: every one)

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        """Yield ``(send, wrap)``: ``send(wrap(payload))`` publishes one message."""
        raise NotImplementedError
        yield  # pragma: no cover

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        """Subscribe, call *ready* on the first warm-up message, measure *count* messages."""
        raise NotImplementedError

    def publish_all(self, send: Send, frames: Iterator[Any]) -> None:
        """Send every frame (a hook for systems that need a flush at the end)."""
        for frame in frames:
            send(frame)


class RawSingle(System):
    """pyzmq PUB/SUB, one frame: topic and payload in one message."""

    name, label = "zmq-1frame", "raw pyzmq, 1 frame"

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
        sock.setsockopt(zmq.SNDHWM, address.hwm)
        sock.bind(address.endpoint)
        try:
            yield sock.send, lambda payload: TOPIC + payload
        finally:
            sock.close(linger=1000)

    def _socket(self, address: Address) -> zmq.Socket[bytes]:
        sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        sock.setsockopt(zmq.RCVHWM, 0)
        sock.subscribe(TOPIC)
        sock.connect(address.endpoint)
        return sock

    offset = len(TOPIC)  # where the payload starts in what `_take` returns

    @staticmethod
    def _take(sock: zmq.Socket[bytes], flags: int = 0) -> bytes:
        return sock.recv(flags)

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        sock = self._socket(address)
        take = self._take

        def recv(timeout_s: float) -> bytes | None:
            try:
                return take(sock, zmq.NOBLOCK)  # the fast path: something is queued
            except zmq.Again:
                return take(sock) if sock.poll(int(timeout_s * 1000)) else None

        try:
            return receive_loop(recv, self.offset, count, quiet_s, ready, latency)
        finally:
            sock.close(linger=0)


class RawPadded(RawSingle):
    """pyzmq PUB/SUB, one frame as long as radio's: the payload, then radio's header's length.

    A reference, not a competitor: radio's frames carry a header (`HEADER_BYTES`)
    that ZeroMQ's I/O threads move too; this row says what raw pyzmq does with as
    many bytes a frame, so that the cost of those bytes is seen apart from radio's.
    """

    name, label = "zmq-1frame-padded", "raw pyzmq, 1 frame + 34 B (radio's header)"
    phases = frozenset({"throughput", "fanout"})

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        padding = bytes(HEADER_BYTES)
        with super().publisher(address) as (send, _):
            yield send, lambda payload: TOPIC + payload + padding


class RawTwoFrames(RawSingle):
    """pyzmq PUB/SUB, two frames: topic, then payload."""

    name, label = "zmq-2frames", "raw pyzmq, 2 frames"

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        with super().publisher(address) as (send, _):
            sock = send.__self__  # type: ignore[attr-defined]
            yield sock.send_multipart, lambda payload: [TOPIC, payload]

    offset = 0

    @staticmethod
    def _take(sock: zmq.Socket[bytes], flags: int = 0) -> bytes:
        return sock.recv_multipart(flags)[1]


class RawAsync(RawSingle):
    """pyzmq PUB/SUB, one frame, received with zmq.asyncio: radio (asyncio)'s baseline."""

    name, label = "zmq-asyncio", "raw pyzmq, asyncio"

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        import zmq.asyncio

        offset = len(TOPIC)

        async def run() -> Received:
            sock = zmq.asyncio.Context.instance().socket(zmq.SUB)
            sock.setsockopt(zmq.RCVHWM, 0)
            sock.subscribe(TOPIC)
            sock.connect(address.endpoint)

            async def recv(timeout_s: float) -> bytes | None:
                try:
                    frame = await sock.recv(zmq.NOBLOCK)  # the fast path: something is queued
                except zmq.Again:
                    if not await sock.poll(int(timeout_s * 1000)):
                        return None
                    frame = await sock.recv()
                return frame[offset:]

            try:
                return await async_receive_loop(recv, count, quiet_s, ready, latency)
            finally:
                sock.close(linger=0)

        return asyncio.run(run())


BUILD_ENV: Final[str] = "RADIO_BENCH_BUILD"
"""What `radio.compiled.describe` said when the run began (set by `tools.bench.main`)."""


def _check_build(system: System) -> None:
    """Refuse to measure radio's compiled cores as pure ones.

    The other radio systems measure the build installed, compiled or not: the page
    says which (`report.machine`).
    """
    import radio.compiled

    if system.pure and radio.compiled.ACTIVE:
        raise RuntimeError(
            f"{system.name} measures the pure cores, but this process has the compiled ones"
        )
    began = os.environ.get(BUILD_ENV)
    if not system.pure and began and radio.compiled.describe() != began:
        raise RuntimeError(  # a source edited mid-run: the build falls back on import
            f"{system.name}: radio's build is now {radio.compiled.describe()!r}, not the"
            f" {began!r} the run began with"
        )


class Radio(System):
    """radio's sync API: Publisher.send and ``for message in subscriber``."""

    name, label = "radio", "radio (sync)"

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        from radio import Publisher

        _check_build(self)
        _quiet_library_logs()
        with Publisher(address.endpoint, channel=CHANNEL, hwm=address.hwm) as pub:
            pub.open_session(SESSION)
            yield partial(pub.send, SESSION), lambda payload: payload

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        from radio import Subscriber

        _check_build(self)
        _quiet_library_logs()
        with Subscriber(address.endpoint, channel=CHANNEL, hwm=0) as sub:
            sub.tune_in(SESSION)
            with self._receiver(sub) as recv:
                return receive_loop(recv, 0, count, quiet_s, ready, latency)

    @contextmanager
    def _receiver(self, sub: Any) -> Iterator[Callable[[float], bytes | None]]:
        """``recv(timeout_s)``: the next payload of ``for message in sub`` (see `Silence`)."""
        recv, silence = iterating(sub, HEAR_FIRST_TIMEOUT_S)
        try:
            yield recv
        finally:
            silence.stop()


class RadioRecv(Radio):
    """radio's sync API with a `Subscriber.recv` call per message."""

    name, label = "radio-recv", "radio (sync), recv()"
    phases = frozenset({"throughput", "latency"})

    @contextmanager
    def _receiver(self, sub: Any) -> Iterator[Callable[[float], bytes | None]]:
        """``recv(timeout_s)``: the next payload, one `Subscriber.recv` each."""

        def recv(timeout_s: float) -> bytes | None:
            message = sub.recv(timeout_s)
            return None if message is None else message.payload

        yield recv


class RadioPure(Radio):
    """radio's sync API on its pure-Python cores (``RADIO_PURE=1``)."""

    name, label, pure = "radio-pure", "radio (sync), pure Python", True


class RadioBulk(Radio):
    """radio's throughput calls: Publisher.send_many and Subscriber.recv_many, 256 at a time."""

    name, label = "radio-bulk", "radio, send_many/recv_many"
    CHUNK: Final[int] = 256

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        with super().publisher(address) as (send, wrap):
            pub = send.func.__self__  # type: ignore[attr-defined]
            self._send_many = partial(pub.send_many, SESSION)
            yield send, wrap

    def publish_all(self, send: Send, frames: Iterator[Any]) -> None:
        send_many = self._send_many
        while chunk := list(itertools.islice(frames, self.CHUNK)):
            send_many(chunk)

    @contextmanager
    def _receiver(self, sub: Any) -> Iterator[Callable[[float], bytes | None]]:
        """``recv(timeout_s)``: the next payload, taken `CHUNK` at a time with recv_many."""
        taken: Iterator[Any] = iter(())

        def recv(timeout_s: float) -> bytes | None:
            nonlocal taken
            message = next(taken, None)
            if message is None:
                taken = iter(sub.recv_many(RadioBulk.CHUNK, timeout_s))
                message = next(taken, None)
            return None if message is None else message.payload

        yield recv


class RadioBulkPure(RadioBulk):
    """radio's throughput calls on its pure-Python cores (``RADIO_PURE=1``)."""

    name, label, pure = "radio-bulk-pure", "radio, send_many/recv_many, pure Python", True


class RadioAsync(Radio):
    """radio's asyncio API: the same publisher, `await AsyncSubscriber.recv` on a loop."""

    name, label = "radio-aio", "radio (asyncio)"

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        from radio.aio import AsyncSubscriber  # public: the asyncio twin is a module of its own

        _check_build(self)
        _quiet_library_logs()

        async def run() -> Received:
            async with AsyncSubscriber(address.endpoint, channel=CHANNEL, hwm=0) as sub:
                sub.tune_in(SESSION)

                async def recv(timeout_s: float) -> bytes | None:
                    message = await sub.recv(timeout_s)
                    return None if message is None else message.payload

                return await async_receive_loop(recv, count, quiet_s, ready, latency)

        return asyncio.run(run())


class RadioBatched(Radio):
    """radio with opt-in batching: up to 64 messages a frame, at most 1 ms late."""

    name, label = "radio-batch", "radio, batch_size=64"

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        from radio import Publisher

        _check_build(self)
        _quiet_library_logs()
        with Publisher(
            address.endpoint, channel=CHANNEL, hwm=address.hwm, batch_size=64, batch_delay=0.001
        ) as pub:
            pub.open_session(SESSION)
            yield partial(pub.send, SESSION), lambda payload: payload


class Redis(System):
    """Redis pub/sub through redis-py: PUBLISH pipelined 100 at a time when sending flat out.

    A lone PUBLISH waits for Redis's reply; pipelining is what a user who cares
    about throughput would do, so the comparison gives Redis that advantage.
    """

    BATCH: Final[int] = 100

    name, label, server = "redis", "Redis pub/sub (redis-py)", "redis-server"

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        import redis

        client = redis.Redis(host="127.0.0.1", port=address.port)
        self._client = client
        try:
            yield partial(client.publish, CHANNEL), lambda payload: payload
        finally:
            client.close()

    def publish_all(self, send: Send, frames: Iterator[Any]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for index, frame in enumerate(frames, 1):
            pipe.publish(CHANNEL, frame)
            if index % self.BATCH == 0:
                pipe.execute()
        pipe.execute()

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        import redis

        client = redis.Redis(host="127.0.0.1", port=address.port)
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(CHANNEL)

        def recv(timeout_s: float) -> bytes | None:
            deadline = time.monotonic() + timeout_s
            while True:  # None also stands for a subscribe confirmation: go on until the deadline
                message = pubsub.get_message(timeout=max(0.0, deadline - time.monotonic()))
                if message is not None:
                    return message["data"]  # type: ignore[no-any-return]
                if time.monotonic() >= deadline:
                    return None

        try:
            return receive_loop(recv, 0, count, quiet_s, ready, latency)
        finally:
            pubsub.close()
            client.close()


class Nats(System):
    """NATS core through nats-py (asyncio; publishes are buffered and flushed)."""

    name, label, server = "nats", "NATS core (nats-py)", "nats-server"

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        import nats

        loop = asyncio.new_event_loop()
        client = loop.run_until_complete(nats.connect(f"nats://127.0.0.1:{address.port}"))
        self._loop, self._client = loop, client

        def send(payload: bytes) -> None:
            loop.run_until_complete(client.publish(CHANNEL, payload))
            loop.run_until_complete(client.flush())

        try:
            yield send, lambda payload: payload
        finally:
            loop.run_until_complete(client.close())
            loop.close()

    def publish_all(self, send: Send, frames: Iterator[Any]) -> None:
        async def run() -> None:
            publish = self._client.publish
            for frame in frames:
                await publish(CHANNEL, frame)
            await self._client.flush()

        self._loop.run_until_complete(run())

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        import nats

        recorder = CallbackRecorder(count, ready, latency)

        async def run() -> Received:
            client = await nats.connect(f"nats://127.0.0.1:{address.port}", pending_size=1 << 30)

            async def on_message(message: Any) -> None:
                recorder.on_payload(message.data)

            await client.subscribe(
                CHANNEL, cb=on_message, pending_msgs_limit=10_000_000, pending_bytes_limit=1 << 31
            )
            await client.flush()
            result = await asyncio.get_running_loop().run_in_executor(None, recorder.wait, quiet_s)
            await client.close()
            return result

        return asyncio.run(run())


class Mqtt(System):
    """MQTT QoS 0 through paho-mqtt against mosquitto."""

    name, label, server = "mqtt", "MQTT QoS 0 (paho)", "mosquitto"

    def _client(self, address: Address) -> Any:
        import paho.mqtt.client as mqtt

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)  # type: ignore[attr-defined]
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", address.port)
        return client

    @contextmanager
    def publisher(self, address: Address) -> Iterator[tuple[Send, Callable[[bytes], Any]]]:
        client = self._client(address)
        client.loop_start()
        try:
            yield partial(client.publish, CHANNEL, qos=0), lambda payload: payload
        finally:
            client.loop_stop()
            client.disconnect()

    def publish_all(self, send: Send, frames: Iterator[Any]) -> None:
        info = None
        for frame in frames:
            info = send(frame)
        if info is not None:
            info.wait_for_publish(timeout=60)

    def receive(
        self,
        address: Address,
        count: int,
        quiet_s: float,
        ready: Callable[[], None],
        latency: bool,
    ) -> Received:
        recorder = CallbackRecorder(count, ready, latency)
        client = self._client(address)
        client.on_message = lambda _client, _userdata, message: recorder.on_payload(message.payload)
        client.subscribe(CHANNEL, qos=0)
        client.loop_start()
        try:
            return recorder.wait(quiet_s)
        finally:
            client.loop_stop()
            client.disconnect()


SYSTEMS: Final[dict[str, System]] = {
    system.name: system
    for system in (
        RawSingle(),
        RawPadded(),
        RawTwoFrames(),
        RawAsync(),
        Radio(),
        RadioRecv(),
        RadioPure(),
        RadioBulk(),
        RadioBulkPure(),
        RadioAsync(),
        RadioBatched(),
        Redis(),
        Nats(),
        Mqtt(),
    )
}
