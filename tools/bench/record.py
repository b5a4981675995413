"""What a benchmark subscriber measures: count, first and last arrival, latencies."""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

from .payload import WARMUP, read

HEAR_FIRST_TIMEOUT_S: Final[float] = 30.0
"""Longest a subscriber waits for the publisher's first message."""


@dataclass
class Received:
    """One subscriber's result."""

    received: int = 0
    first_ns: int = 0
    last_ns: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    thread_cpu_ns: int = 0  # CPU of the receiving thread, first to last data message
    process_cpu_ns: int = 0  # CPU of the whole process (every thread) meanwhile

    def start_cpu(self) -> None:
        """Note the CPU clocks at the first data message."""
        self.thread_cpu_ns = -time.thread_time_ns()
        self.process_cpu_ns = -time.process_time_ns()

    def stop_cpu(self) -> None:
        """Turn the CPU clocks noted by `start_cpu` into what was spent since."""
        self.thread_cpu_ns += time.thread_time_ns()
        self.process_cpu_ns += time.process_time_ns()

    @property
    def rate(self) -> float:
        """Delivered messages per second, from the first to the last arrival."""
        span = (self.last_ns - self.first_ns) / 1e9
        return (self.received - 1) / span if self.received > 1 and span > 0 else 0.0


def receive_loop(
    recv: Callable[[float], bytes | None],
    offset: int,
    count: int,
    quiet_s: float,
    ready: Callable[[], None],
    latency: bool,
) -> Received:
    """Drive a synchronous ``recv(timeout_s)`` until *count* data messages or silence.

    Warm-up messages come first (one connection keeps order); after the first
    data message, the throughput loop does nothing but receive, so what is
    measured is the library, not this harness.
    """
    result = Received()
    while True:
        payload = recv(HEAR_FIRST_TIMEOUT_S)
        if payload is None:
            return result
        kind, sent_ns = read(payload[offset : offset + 9])
        if kind == WARMUP:
            ready()
            continue
        break
    result.first_ns = time.monotonic_ns()
    result.start_cpu()
    result.received = 1
    if latency:
        result.latencies_ns.append(result.first_ns - sent_ns)
        while result.received < count:
            payload = recv(quiet_s)
            if payload is None:
                break
            now = time.monotonic_ns()
            result.latencies_ns.append(now - read(payload[offset : offset + 9])[1])
            result.received += 1
            result.last_ns = now
        result.stop_cpu()
        return result
    received = 1
    quiet = False
    while received < count:
        if recv(quiet_s) is None:
            quiet = True
            break
        received += 1
    result.stop_cpu()
    result.received = received
    result.last_ns = time.monotonic_ns() - (int(quiet_s * 1e9) if quiet else 0)
    return result


async def async_receive_loop(
    recv: Callable[[float], Awaitable[bytes | None]],
    count: int,
    quiet_s: float,
    ready: Callable[[], None],
    latency: bool,
) -> Received:
    """`receive_loop` for an awaitable ``recv(timeout_s)`` (payloads start at offset 0)."""
    result = Received()
    while True:
        payload = await recv(HEAR_FIRST_TIMEOUT_S)
        if payload is None:
            return result
        kind, sent_ns = read(payload[:9])
        if kind == WARMUP:
            ready()
            continue
        break
    result.first_ns = time.monotonic_ns()
    result.start_cpu()
    received, quiet = 1, False
    if latency:
        result.latencies_ns.append(result.first_ns - sent_ns)
    while received < count:
        payload = await recv(quiet_s)
        if payload is None:
            quiet = True
            break
        received += 1
        if latency:
            now = time.monotonic_ns()
            result.latencies_ns.append(now - read(payload[:9])[1])
    result.stop_cpu()
    result.received = received
    result.last_ns = time.monotonic_ns() - (int(quiet_s * 1e9) if quiet else 0)
    return result


class CallbackRecorder:
    """The same measurement for libraries that deliver through callbacks (NATS, MQTT)."""

    def __init__(self, count: int, ready: Callable[[], None], latency: bool) -> None:
        self.result = Received()
        self.done = threading.Event()
        self._count = count
        self._ready = ready
        self._latency = latency

    def on_payload(self, payload: bytes) -> None:
        """Account for one message."""
        now = time.monotonic_ns()
        result = self.result
        if not result.received:
            kind, sent_ns = read(payload)
            if kind == WARMUP:
                self._ready()
                return
            result.first_ns = now
        elif self._latency:
            sent_ns = read(payload)[1]
        if self._latency:
            result.latencies_ns.append(now - sent_ns)
        result.received += 1
        result.last_ns = now
        if result.received >= self._count:
            self.done.set()

    def wait(self, quiet_s: float) -> Received:
        """Block until *count* messages arrived or none came for *quiet_s* after the first."""
        deadline = time.monotonic() + HEAR_FIRST_TIMEOUT_S
        seen = -1
        while not self.done.wait(quiet_s):
            received = self.result.received
            if received == seen and received > 0:
                break
            if not received and time.monotonic() > deadline:
                break
            seen = received
        return self.result
