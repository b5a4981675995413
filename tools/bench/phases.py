"""The benchmark's phases: throughput, latency, fan-out and memory, repeated and summarised."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from .runner import Run, measure
from .systems import SYSTEMS

KIB: Final[int] = 1024


@dataclass(frozen=True)
class Plan:
    """What to measure and how much of it."""

    systems: tuple[str, ...]
    sizes: tuple[int, ...] = (16, 100, KIB, 64 * KIB)
    repeat: int = 5
    zmq_count: int = 600_000  # long enough runs that a scheduling hiccup is not the figure
    broker_count: int = 50_000
    bytes_cap: int = 400 * KIB * KIB  # most bytes one throughput run moves
    latency_rate: float = 10_000.0
    latency_count: int = 30_000
    fanout: tuple[int, ...] = (1, 10, 50)
    fanout_count: int = 20_000  # brokers
    fanout_zmq_count: int = 100_000  # ZeroMQ-based systems: 20,000 took about 10 ms, noise
    fanout_repeat: int = 3  # runs of each (at most `repeat`), in rounds as the others
    memory_count: int = 1_000_000
    profile_frames: int = 200_000  # calls per measurement of the hot paths step by step

    def count(self, system: str, size: int) -> int:
        """Messages in one throughput run of *system* with *size*-byte payloads."""
        base = self.zmq_count if system.startswith(("zmq", "radio")) else self.broker_count
        return max(1000, min(base, self.bytes_cap // size))


CPU_SIDES: Final[tuple[str, ...]] = ("send thread", "publisher", "receive thread", "subscriber")
"""What `Results.cpu` holds per message: the sending thread and the publisher's whole
process over the send loop; the receiving thread and the subscriber's whole process
(its service and ZeroMQ I/O threads too) from the first to the last message."""


@dataclass
class Spread:
    """Median and range of repeated figures."""

    median: float
    low: float
    high: float
    samples: list[float] = field(default_factory=list)

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(statistics.median(values), min(values), max(values), list(values))


@dataclass
class Results:
    """Everything one benchmark run measured."""

    throughput: dict[str, dict[int, Spread]] = field(default_factory=dict)
    delivered: dict[str, dict[int, float]] = field(default_factory=dict)  # fraction delivered
    latency_us: dict[str, dict[str, Spread]] = field(default_factory=dict)
    latency_rate: dict[str, float] = field(default_factory=dict)  # achieved offered rate
    fanout: dict[str, dict[int, Spread]] = field(default_factory=dict)
    # Throughput runs: median CPU microseconds per message on each of `CPU_SIDES`.
    cpu: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    # The hot paths step by step (tools.bench.cores): ns per message by build and step.
    profile: dict[str, dict[str, float]] = field(default_factory=dict)
    memory: dict[str, list[tuple[int, int, int]]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


Step = Callable[[str], None]


def _percentile(sorted_values: Sequence[int], fraction: float) -> float:
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index] / 1000.0


def measured_in(plan: Plan, phase: str) -> list[str]:
    """The plan's systems measured in *phase*, in the plan's order (see `System.phases`)."""
    return [
        name for name in plan.systems if (phases := SYSTEMS[name].phases) is None or phase in phases
    ]


def _rounds(plan: Plan, phase: str) -> list[tuple[int, str]]:
    """(repeat, system) in the order runs are made: every system once per round.

    Runs of one system are spread over the whole phase, not made back to back, so
    that a noisy spell of the machine does not fall on one system's runs only.
    """
    systems = measured_in(plan, phase)
    return [(index, system) for index in range(plan.repeat) for system in systems]


def throughput(plan: Plan, results: Results, step: Step) -> None:
    """Delivered messages per second, one subscriber, every payload size."""
    rates: dict[tuple[str, int], list[float]] = {}
    delivered: dict[tuple[str, int], list[float]] = {}
    cpu: dict[tuple[str, int], list[list[float]]] = {}
    for size in plan.sizes:
        for _, system in _rounds(plan, "throughput"):
            step(f"throughput {system} {size} B")
            count = plan.count(system, size)
            run = measure(system, size, count)
            rates.setdefault((system, size), []).append(run.rate)
            delivered.setdefault((system, size), []).append(run.delivered / count)
            cpu.setdefault((system, size), []).append(_cpu_per_message(run))
    for system in measured_in(plan, "throughput"):  # in the plan's order
        for size in plan.sizes:
            results.throughput.setdefault(system, {})[size] = Spread.of(rates[system, size])
            results.delivered.setdefault(system, {})[size] = min(delivered[system, size])
            results.cpu.setdefault(system, {})[size] = [
                statistics.median(s) for s in zip(*cpu[system, size], strict=True)
            ]


def _cpu_per_message(run: Run) -> list[float]:
    """CPU microseconds per message on each of `CPU_SIDES` (0 where nothing was heard)."""
    sub = run.subscribers[0] if run.subscribers else None
    heard = sub.received if sub is not None and sub.received > 1 else 0
    return [
        run.send_thread_cpu_ns / 1000 / run.sent if run.sent else 0.0,
        run.send_process_cpu_ns / 1000 / run.sent if run.sent else 0.0,
        sub.thread_cpu_ns / 1000 / heard if sub is not None and heard else 0.0,
        sub.process_cpu_ns / 1000 / heard if sub is not None and heard else 0.0,
    ]


def latency(plan: Plan, results: Results, step: Step) -> None:
    """One-way latency percentiles at a fixed offered rate, 100-byte payloads."""
    percentiles: dict[str, dict[str, list[float]]] = {}
    achieved: dict[str, list[float]] = {}
    for _, system in _rounds(plan, "latency"):
        step(f"latency {system}")
        run = measure(system, 100, plan.latency_count, rate=plan.latency_rate, latency=True)
        samples = sorted(run.subscribers[0].latencies_ns) if run.subscribers else []
        if not samples:
            continue
        mine = percentiles.setdefault(system, {"p50": [], "p99": [], "p99.9": []})
        for name, fraction in (("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)):
            mine[name].append(_percentile(samples, fraction))
        achieved.setdefault(system, []).append(
            run.sent / run.send_seconds if run.send_seconds else 0.0
        )
    for system in measured_in(plan, "latency"):
        if system in achieved:
            results.latency_us[system] = {k: Spread.of(v) for k, v in percentiles[system].items()}
            results.latency_rate[system] = statistics.median(achieved[system])


def fanout(plan: Plan, results: Results, step: Step) -> None:
    """Aggregate delivered rate to 1, 10 and 50 subscriber processes, in rounds."""
    rates: dict[tuple[str, int], list[float]] = {}
    for subscribers in plan.fanout:
        for _ in range(min(plan.repeat, plan.fanout_repeat)):
            for system in measured_in(plan, "fanout"):
                step(f"fan-out {system} x{subscribers}")
                zmq = system.startswith(("zmq", "radio"))
                count = plan.fanout_zmq_count if zmq else plan.fanout_count
                run: Run = measure(system, 100, count, subscribers=subscribers)
                rates.setdefault((system, subscribers), []).append(run.rate)
    for system in measured_in(plan, "fanout"):
        for subscribers in plan.fanout:
            results.fanout.setdefault(system, {})[subscribers] = Spread.of(
                rates[system, subscribers]
            )


def memory(plan: Plan, results: Results, step: Step) -> None:
    """Publisher (and broker) memory while broadcasting to one frozen subscriber."""
    for system in measured_in(plan, "memory"):
        step(f"memory {system}")
        run = measure(system, 100, plan.memory_count, freeze=True)
        results.memory[system] = run.rss_samples


def profile(plan: Plan, results: Results, step: Step) -> None:
    """The hot paths and their steps, compiled and pure, alternating (tools.bench.cores)."""
    from .cores import profile as measure_steps

    step("profile of the hot paths")
    results.profile = measure_steps(plan.repeat, plan.profile_frames)
