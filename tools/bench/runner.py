"""One measurement: a publisher process and N subscriber processes, on a fresh address."""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from radio import DEFAULT_HWM

from .payload import DATA, WARMUP, make
from .record import Received
from .servers import free_port, running
from .systems import SYSTEMS, Address, System

QUIET_S: Final[float] = 2.0
"""A subscriber stops after this long without a message (the rest were lost)."""
RUN_TIMEOUT_S: Final[float] = 180.0
"""Longest one measurement may take before its processes are killed."""

_fork = mp.get_context("fork")  # the parent holds no ZeroMQ context, so forking is safe
_spawn = mp.get_context("spawn")  # a fresh interpreter: imports radio's pure cores, see `_started`


@contextmanager
def _started(system: System) -> Iterator[Any]:
    """The multiprocessing context *system*'s processes start from.

    The parent imported radio with its compiled cores, and a forked child keeps
    them; a system measuring the pure cores starts fresh interpreters instead,
    with ``RADIO_PURE=1`` in their environment (set only while they start).
    """
    if not system.pure:
        yield _fork
        return
    before = os.environ.get("RADIO_PURE")
    os.environ["RADIO_PURE"] = "1"
    try:
        yield _spawn
    finally:
        if before is None:
            del os.environ["RADIO_PURE"]
        else:
            os.environ["RADIO_PURE"] = before


@dataclass
class Run:
    """What one measurement produced."""

    sent: int = 0
    send_seconds: float = 0.0
    send_thread_cpu_ns: int = 0  # CPU of the sending thread over the send loop
    send_process_cpu_ns: int = 0  # CPU of the publisher's whole process meanwhile
    subscribers: list[Received] = field(default_factory=list)
    rss_samples: list[tuple[int, int, int]] = field(default_factory=list)  # sent, pub, server

    @property
    def delivered(self) -> int:
        return sum(sub.received for sub in self.subscribers)

    @property
    def rate(self) -> float:
        """Delivered messages per second across subscribers, first to last arrival."""
        heard = [sub for sub in self.subscribers if sub.received > 1]
        if not heard:
            return 0.0
        span = (max(s.last_ns for s in heard) - min(s.first_ns for s in heard)) / 1e9
        return sum(s.received for s in heard) / span if span > 0 else 0.0


@dataclass
class Failed:
    """What a measuring process that raised sends back instead of its result."""

    why: str


def _result(out: Any) -> Any:
    """The next result on *out*; a `Failed` one raises here, in the parent."""
    result = out.get(timeout=RUN_TIMEOUT_S)
    if isinstance(result, Failed):
        raise RuntimeError(result.why)
    return result


def rss_bytes(pid: int) -> int:
    """Resident memory of process *pid* (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _subscriber(
    system: System, address: Address, count: int, latency: bool, ready: Any, out: Any
) -> None:
    heard = False

    def on_ready() -> None:
        nonlocal heard
        if not heard:
            heard = True
            with ready.get_lock():
                ready.value += 1

    try:
        out.put(system.receive(address, count, QUIET_S, on_ready, latency))
    except Exception as exc:  # noqa: BLE001 - the parent raises it: no wait for a timeout
        out.put(Failed(f"{system.name} subscriber: {exc!r}"))


def _paced(wrap: Any, size: int, count: int, rate: float) -> Iterator[Any]:
    """Frames at *rate* per second on average, each stamped when it is made."""
    start = time.monotonic()
    for sent in range(count):
        due = start + sent / rate
        delay = due - time.monotonic()
        if delay > 0.0005:
            time.sleep(delay)
        yield wrap(make(DATA, size))


def _publisher(system: System, *args: Any) -> None:
    out = args[-2]  # `_publish`'s *out*
    try:
        _publish(system, *args)
    except Exception as exc:  # noqa: BLE001 - the parent raises it: no wait for a timeout
        out.put(Failed(f"{system.name} publisher: {exc!r}"))


def _publish(
    system: System,
    address: Address,
    size: int,
    count: int,
    rate: float | None,
    ready: Any,
    subscribers: int,
    go: Any,
    done: Any,
    out: Any,
    server_pid: int,
) -> None:
    with system.publisher(address) as (send, wrap):
        warmup = wrap(make(WARMUP, size))
        deadline = time.monotonic() + 30
        while ready.value < subscribers and time.monotonic() < deadline:
            send(warmup)
            time.sleep(0.002)
        go.wait(30)
        run = Run(sent=count)
        if rate is not None:
            frames: Iterator[Any] = _paced(wrap, size, count, rate)
        else:  # every system frames each message itself, as an application would
            payload = make(DATA, size)
            frames = map(wrap, itertools.repeat(payload, count))
        sample_every = max(1, count // 20)
        start = time.perf_counter()
        thread_cpu, process_cpu = time.thread_time_ns(), time.process_time_ns()
        if server_pid >= 0:  # memory mode: sample RSS every twentieth of the run
            for sent in range(sample_every, count + sample_every, sample_every):
                system.publish_all(send, itertools.islice(frames, sample_every))
                server_rss = rss_bytes(server_pid) if server_pid else 0
                run.rss_samples.append((min(sent, count), rss_bytes(os.getpid()), server_rss))
        elif rate is not None:  # paced: each message goes out on its own, now
            for frame in frames:
                send(frame)
        else:
            system.publish_all(send, frames)
        run.send_seconds = time.perf_counter() - start
        run.send_thread_cpu_ns = time.thread_time_ns() - thread_cpu
        run.send_process_cpu_ns = time.process_time_ns() - process_cpu
        out.put(run)
        done.wait(RUN_TIMEOUT_S)  # keep the socket open until every subscriber is done


@contextmanager
def address_for(system: System, hwm: int) -> Iterator[tuple[Address, int]]:
    """A fresh address for *system* (starting its broker); yields it and the broker's pid."""
    if system.server is None:
        yield Address(endpoint=f"tcp://127.0.0.1:{free_port()}", hwm=hwm), 0
        return
    with running(system.server) as (port, pid):
        yield Address(port=port), pid


def measure(
    name: str,
    size: int,
    count: int,
    *,
    subscribers: int = 1,
    rate: float | None = None,
    latency: bool = False,
    freeze: bool = False,
) -> Run:
    """Run one measurement of system *name* and return what it saw.

    *freeze* stops every subscriber with SIGSTOP once it has heard the warm-up,
    and samples the publisher's (and broker's) memory while it sends.
    """
    system = SYSTEMS[name]
    # Speed runs turn the high-water mark off so nothing is dropped; the memory run
    # keeps ZeroMQ's default, which is what bounds a frozen subscriber's cost.
    with (
        address_for(system, DEFAULT_HWM if freeze else 0) as (address, server_pid),
        _started(system) as ctx,
    ):
        ready = ctx.Value("i", 0)
        go, done = ctx.Event(), ctx.Event()
        sub_out, pub_out = ctx.Queue(), ctx.Queue()
        subs = [
            ctx.Process(
                target=_subscriber,
                args=(system, address, count, latency, ready, sub_out),
                daemon=True,
            )
            for _ in range(subscribers)
        ]
        for process in subs:
            process.start()
        pub = ctx.Process(
            target=_publisher,
            args=(
                system,
                address,
                size,
                count,
                rate,
                ready,
                subscribers,
                go,
                done,
                pub_out,
                server_pid if freeze else -1,
            ),
            daemon=True,
        )
        pub.start()
        try:
            deadline = time.monotonic() + 30
            while ready.value < subscribers and time.monotonic() < deadline:
                time.sleep(0.01)
            if freeze:
                for process in subs:
                    os.kill(process.pid, signal.SIGSTOP)
            go.set()
            run: Run = _result(pub_out)
            if freeze:
                for process in subs:
                    os.kill(process.pid, signal.SIGKILL)
            else:
                run.subscribers = [_result(sub_out) for _ in subs]
            return run
        finally:
            done.set()
            for process in [*subs, pub]:
                process.join(timeout=10)
                if process.is_alive():
                    process.kill()
                    process.join()
