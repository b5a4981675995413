"""Turn a benchmark run into docs/benchmarks.md and PNG plots, from the figures measured."""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import zmq

from .phases import CPU_SIDES, KIB, Plan, Results, Spread
from .servers import version
from .systems import SYSTEMS

BASELINE: Final[str] = "zmq-1frame"
PADDED: Final[str] = "zmq-1frame-padded"
"""Raw pyzmq with frames as long as radio's: what the header's bytes cost, seen apart."""

RANGE_DASH: Final = "\u2011"
"""Between the two ends of a range in the tables ("1.57M\u20111.88M"): a non-breaking
hyphen, so that a narrow column wraps before the range, never inside it."""


@dataclass(frozen=True)
class Target:
    """A target ratio between two systems, measured in one run."""

    label: str
    mine: str
    other: str
    bound: float | None  # None: shown beside the targets, none set
    phase: str = "throughput"  # or "fanout" (at: subscribers) or "latency" (p99)
    at: int = 100  # payload bytes (throughput), subscribers (fanout)

    def _pair(self, results: Results) -> tuple[Spread | None, Spread | None]:
        if self.phase == "latency":
            table = results.latency_us
            mine, theirs = (table.get(name, {}).get("p99") for name in (self.mine, self.other))
        else:
            by = results.fanout if self.phase == "fanout" else results.throughput
            mine, theirs = (by.get(name, {}).get(self.at) for name in (self.mine, self.other))
        return mine, theirs

    def rounds(self, results: Results) -> list[float]:
        """Mine / other in each round (the two runs made side by side), when both ran in each."""
        mine, theirs = self._pair(results)
        if mine is None or theirs is None or len(mine.samples) != len(theirs.samples):
            return []
        return [a / b for a, b in zip(mine.samples, theirs.samples, strict=True) if b]

    def ratio(self, results: Results) -> float | None:
        """Mine / other: the median of the rounds' ratios (else of the medians); None: not measured.

        Runs of one round are made seconds apart, those of different rounds minutes
        apart: pairing them keeps a noisy spell of the machine out of the ratio.
        """
        paired = self.rounds(results)
        if paired:
            return statistics.median(paired)
        return self.of_medians(results)

    def of_medians(self, results: Results) -> float | None:
        """Mine's median / other's median, or None when either was not measured."""
        mine, theirs = self._pair(results)
        if mine is None or theirs is None or not theirs.median:
            return None
        return mine.median / theirs.median

    def met(self, ratio: float) -> bool:
        """Whether *ratio* meets the bound (at most, for latency; at least otherwise)."""
        if self.bound is None:
            return True
        return ratio <= self.bound if self.phase == "latency" else ratio >= self.bound


TARGETS: Final[tuple[Target, ...]] = (
    Target("radio (sync) / raw pyzmq 1 frame, 100 B", "radio", BASELINE, 1.2),
    Target("radio send_many/recv_many / raw pyzmq 1 frame, 100 B", "radio-bulk", BASELINE, 3.0),
    Target("radio batch_size=64 / raw pyzmq 1 frame, 100 B", "radio-batch", BASELINE, 3.0),
    Target("fan-out to 10 subscribers: radio / raw", "radio", BASELINE, 1.0, "fanout", 10),
    Target("fan-out to 50 subscribers: radio / raw", "radio", BASELINE, 1.0, "fanout", 50),
    Target("radio (sync) / raw pyzmq 1 frame, 64 KiB", "radio", BASELINE, 1.0, at=64 * KIB),
    Target("latency p99 at the offered rate: radio / raw", "radio", BASELINE, 1.1, "latency"),
    Target("radio (asyncio) / raw pyzmq asyncio, 100 B", "radio-aio", "zmq-asyncio", 1.5),
    Target("radio (sync) pure Python / raw pyzmq 1 frame, 100 B", "radio-pure", BASELINE, 0.55),
    Target("radio (sync) / NATS, 100 B", "radio", "nats", 3.0),
    Target("radio (sync) / Redis, 100 B", "radio", "redis", 6.0),
    Target("radio (sync) / MQTT, 100 B", "radio", "mqtt", 15.0),
    Target("radio (sync) pure Python / compiled, 100 B", "radio-pure", "radio", None),
    Target("radio (sync), recv() / raw pyzmq 1 frame, 100 B", "radio-recv", BASELINE, None),
    Target("radio (sync) / raw pyzmq 1 frame + 34 B, 100 B", "radio", PADDED, None),
    Target("fan-out to 10 subscribers: radio / raw + 34 B", "radio", PADDED, None, "fanout", 10),
    Target("fan-out to 50 subscribers: radio / raw + 34 B", "radio", PADDED, None, "fanout", 50),
)
"""The targets of the performance issue (issue 20) and of the first benchmark (the brokers)."""


def _cpu(results: Results, system: str, size: int) -> str:
    """*system*'s CPU per message at *size* on each side, as the CPU table shows it."""
    sides = results.cpu.get(system, {}).get(size)
    if not sides or not any(sides):
        return f"{system}: not measured"
    return f"{system} " + " / ".join(f"{value:.2f}" for value in sides)


def rounds_met(target: Target, results: Results) -> str:
    """How many of the run's rounds met *target* on their own: " (met in K of N rounds)"."""
    rounds = target.rounds(results)
    if not rounds:
        return ""
    met = sum(target.met(ratio) for ratio in rounds)
    return f" (met in {met} of {len(rounds)} rounds)"


def why_missed(target: Target, results: Results) -> str:
    """Why *target* was missed, from what the run measured; how many rounds met it alone."""
    why, label = _why(target, results), target.label
    return label + rounds_met(target, results) + why.removeprefix(label)


def _why(target: Target, results: Results) -> str:
    """`why_missed`'s explanation, from the CPU per message table and the reference rows."""
    cpu = "; ".join(
        _cpu(results, name, target.at if target.phase == "throughput" else 100)
        for name in (target.mine, target.other)
    )
    measured = f"CPU µs per message (send thread / publisher / receive thread / subscriber): {cpu}."
    if target.phase == "latency":
        mine, theirs = (results.latency_us[name] for name in (target.mine, target.other))
        return (
            f"{target.label}: p50 {mine['p50'].median:,.0f} µs against"
            f" {theirs['p50'].median:,.0f}, p99 {mine['p99'].median:,.0f} µs (runs"
            f" {mine['p99'].low:,.0f}-{mine['p99'].high:,.0f}) against"
            f" {theirs['p99'].median:,.0f} ({theirs['p99'].low:,.0f}-{theirs['p99'].high:,.0f})."
            " At this rate both sides mostly wait, and each message wakes three threads in"
            " turn (the publisher's I/O thread, the subscriber's, then its reader) on two"
            " cores; radio adds its per-message work on both ends (the 100 B row of the CPU"
            " table) and a service thread on each side that wakes every 20 ms. The ratio"
            " moves a lot between runs on this machine: the tail comes mostly in bursts,"
            " where the paced sender catches up after it was descheduled, which both"
            " systems see; this page measures the difference, it does not explain it."
        )
    if target.phase == "fanout":
        padded = Target("", target.mine, PADDED, None, "fanout", target.at).ratio(results)
        raw_cost = Target("", PADDED, BASELINE, None, "fanout", target.at).ratio(results)
        bytes_cost = (
            ""
            if padded is None or raw_cost is None
            else f" Against raw pyzmq sending frames as long as radio's (+34 B), radio measured"
            f" {padded:.2f}x in this run: the difference between that and the ratio above is"
            " what the header's bytes cost; raw pyzmq itself, sending those 34 B more a"
            f" frame, measured {raw_cost:.2f}x its own rate. libzmq moves a connection's bytes"
            " in batches of 8 KiB, whose size only its draft API sets (pyzmq's wheel is built"
            " without it)."
        )
        return (
            f"{target.label}: with {target.at} subscriber processes on two cores, the aggregate"
            " rate is bounded by what every subscriber process spends per message (its reading"
            f" thread and its ZeroMQ I/O thread), {target.at} times over, plus the publisher."
            " radio's frames carry a 34-byte header (seq, send time, TTL, publisher"
            " instance) that each subscriber's ZeroMQ I/O thread moves and decodes too, and a"
            " radio delivery makes a `Message` (the tuple, its payload, seq and send time)"
            f" where raw pyzmq makes one bytes object.{bytes_cost} The CPU figures are from"
            f" the single-subscriber throughput runs: {measured}"
        )
    if target.other in ("nats", "redis", "mqtt"):
        return (
            f"{target.label}: the broker's client batches its writes (nats-py buffers, redis-py"
            " is pipelined 100 at a time here, paho queues for its network thread), so its"
            f" sender does little per message, while radio's rate is bounded as above. {measured}"
        )
    return (
        f"{target.label}: the run is CPU-bound (publisher, subscriber and both ZeroMQ I/O"
        " threads share two cores), so the rate follows the CPU all of them spend per"
        " message. radio's send path is in C (the lock, a clock reading, the header written"
        " into libzmq's message); its receive side still makes more Python objects per"
        " message than raw pyzmq (the frame read, then the `Message`: its payload, seq and"
        " send time) and keeps a ready queue, and each of those is allocated and freed."
        f" {measured} The step-by-step table below measures the hot paths on their own."
    )


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    from radio import __version__

    def package(name: str) -> str:
        try:
            from importlib.metadata import version as dist_version

            return dist_version(name)
        except Exception:  # noqa: BLE001 - not installed
            return "not installed"

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "radio": __version__,
        "radio's cores": _cores(),
        "pyzmq / libzmq": f"{zmq.pyzmq_version()} / {zmq.zmq_version()}",
        "redis-py / redis-server": f"{package('redis')} / {version('redis-server')}",
        "nats-py / nats-server": f"{package('nats-py')} / {version('nats-server')}",
        "paho-mqtt / mosquitto": f"{package('paho-mqtt')} / {version('mosquitto')}",
    }


def _cores() -> str:
    """Which build of radio's cores the systems without "pure Python" in their name ran."""
    import radio.compiled

    if radio.compiled.ACTIVE or radio.compiled.HOT:
        return f"{radio.compiled.describe()}; the pure-Python systems ran with RADIO_PURE=1"
    return f"pure Python ({radio.compiled.REASON})"


def _size(size: int) -> str:
    return f"{size // KIB} KiB" if size >= KIB else f"{size} B"


def _rate(value: float) -> str:
    return f"{value / 1000:,.1f}k" if value < 1e6 else f"{value / 1e6:,.2f}M"


def _ratio(results: Results, system: str, other: str, size: int = 100) -> float | None:
    """Throughput of *system* / *other* at *size*, as the targets measure it (`Target.ratio`)."""
    return Target("", system, other, None, "throughput", size).ratio(results)


def markdown(plan: Plan, results: Results, info: dict[str, str], plots: list[str]) -> str:
    """The benchmark page."""
    out: list[str] = ["# Benchmarks", ""]
    out += [
        "Generated by `make bench` (`python -m tools.bench.main`); every figure below comes"
        " from one run on",
        "the machine described here. Publisher and subscribers run in separate processes on",
        "tcp loopback. The machine is shared and noisy: each throughput and latency figure is",
        f"the median of {plan.repeat} runs, with the range of the runs beside it; the runs go"
        " round the systems in turn (one run of each, then the next round), so a noisy spell"
        " falls on all of them alike. Quote ratios",
        "from one run, not absolute numbers across runs.",
        "",
        "## Machine and versions",
        "",
        "| item | this run |",
        "|---|---|",
    ]
    out += [f"| {key} | {value} |" for key, value in info.items()]
    out += ["", "## Parameters", ""]
    out += [
        f"- Throughput: one subscriber, payloads of {', '.join(_size(s) for s in plan.sizes)};"
        f" up to {plan.zmq_count:,} messages a run for ZeroMQ-based systems and"
        f" {plan.broker_count:,} for brokers (at most {plan.bytes_cap // KIB // KIB} MiB a run);"
        " the rate is counted at the subscriber, first to last arrival. High-water marks are"
        " off (0) for the ZeroMQ systems so that nothing is dropped.",
        f"- Latency: 100-byte payloads offered at {plan.latency_rate:,.0f} msg/s,"
        f" {plan.latency_count:,} messages; the publisher stamps CLOCK_MONOTONIC, the"
        " subscriber subtracts it on arrival (one clock, one host).",
        f"- Fan-out: {', '.join(map(str, plan.fanout))} subscriber processes,"
        f" {plan.fanout_zmq_count:,} messages of 100 bytes for the ZeroMQ-based systems"
        f" and {plan.fanout_count:,} for the brokers, {min(plan.repeat, plan.fanout_repeat)}"
        " runs of each in rounds; the aggregate delivered rate (median of the runs).",
        f"- Memory: one subscriber frozen with SIGSTOP, {plan.memory_count:,} messages of"
        " 100 bytes, publisher (and broker) resident memory sampled 20 times.",
        "- Redis: throughput runs pipeline PUBLISH 100 at a time (a lone PUBLISH waits for a"
        " reply); latency runs publish one by one. NATS: nats-py on asyncio, flushed at the end"
        " (throughput) or after each message (latency). MQTT: QoS 0 with paho's network thread.",
        "",
    ]
    if results.skipped:
        out += ["## Skipped", ""]
        out += [f"- {SYSTEMS[name].label}: {why}" for name, why in results.skipped.items()]
        out += [""]
    out += ["## Targets (ratios from this run)", ""]
    out += [
        "Each ratio is the median over the rounds of the two systems' runs in that round"
        " (made side by side, seconds apart); beside it, the lowest and highest round, and"
        " the ratio of the two systems' medians over all rounds.",
        "",
        "| ratio | target | measured | rounds | of medians | met |",
        "|---|---|---|---|---|---|",
    ]
    missed = []
    for target in TARGETS:
        ratio = target.ratio(results)
        shown = "not measured" if ratio is None else f"{ratio:.2f}x"
        paired = target.rounds(results)
        span = f"{min(paired):.2f}-{max(paired):.2f}x" if paired else ""
        medians = target.of_medians(results)
        of_medians = "" if medians is None else f"{medians:.2f}x"
        if target.bound is None:
            bound, met = "none set", ""
        else:
            bound = f"{'<=' if target.phase == 'latency' else '>='} {target.bound:g}x"
            met = "" if ratio is None else ("yes" if target.met(ratio) else "**no**")
        if ratio is not None and not target.met(ratio):
            missed.append(target)
        out.append(f"| {target.label} | {bound} | {shown} | {span} | {of_medians} | {met} |")
    if missed:
        out += ["", "Targets not met, and why (from the figures of this run):", ""]
        out += [f"- {why_missed(target, results)}" for target in missed]
    if results.cpu:
        out += ["", "## CPU per message on each side (microseconds, median of runs)", ""]
        out += [
            "Measured in the throughput runs with `time.thread_time` and `time.process_time`:"
            " the sending thread and the publisher's whole process over the send loop, the"
            " receiving thread and the subscriber's whole process (its service and ZeroMQ I/O"
            " threads too) from the first message to the last. '-': not measured (callback"
            " clients receive on their own threads).",
            "",
        ]
        sizes = [size for size in (100, 64 * KIB) if size in plan.sizes]
        out += ["| system | size | " + " | ".join(CPU_SIDES) + " |"]
        out += ["|---|---|" + "---|" * len(CPU_SIDES)]
        for system, per_size in results.cpu.items():
            for size in sizes:
                sides = per_size.get(size)
                if sides:
                    row = " | ".join(f"{v:.2f}" if v else "-" for v in sides)
                    out.append(f"| {SYSTEMS[system].label} | {_size(size)} | {row} |")
    if results.profile:
        from .cores import STEPS

        out += ["", "## The hot paths step by step (nanoseconds per message)", ""]
        out += [
            "`python -m tools.bench.cores` in this run: each figure is the best of 3 in a"
            f" child process, median over {plan.repeat} children per build, compiled and pure"
            " alternating. The send path runs on a socket nobody listens to.",
            "",
            "| measurement | compiled cores | pure Python |",
            "|---|---|---|",
        ]
        compiled, pure = results.profile.get("compiled", {}), results.profile.get("pure", {})
        for name, label in STEPS.items():
            if name in compiled or name in pure:
                figures = [f"{by[name]:,.0f}" if name in by else "" for by in (compiled, pure)]
                out.append(f"| {label} | {figures[0]} | {figures[1]} |")
    out += ["", "## Throughput (delivered messages per second)", ""]
    header = "| system | " + " | ".join(_size(s) for s in plan.sizes) + " |"
    out += [header, "|---|" + "---|" * len(plan.sizes)]
    for system, by_size in results.throughput.items():
        cells = []
        for size in plan.sizes:
            spread = by_size.get(size)
            if spread is None:
                cells.append("")
                continue
            lost = results.delivered[system][size]
            note = "" if lost >= 0.999 else f", {lost:.0%} delivered"
            low, high = _rate(spread.low), _rate(spread.high)
            cells.append(f"{_rate(spread.median)} ({low}{RANGE_DASH}{high}{note})")
        out.append(f"| {SYSTEMS[system].label} | " + " | ".join(cells) + " |")
    out += ["", "Ratio to raw pyzmq single-frame, same run:", ""]
    out += [header, "|---|" + "---|" * len(plan.sizes)]
    for system in results.throughput:
        cells = []
        for size in plan.sizes:
            ratio = _ratio(results, system, BASELINE, size)
            cells.append("" if ratio is None else f"{ratio:.2f}x")
        out.append(f"| {SYSTEMS[system].label} | " + " | ".join(cells) + " |")
    if results.latency_us:
        out += ["", f"## Latency at {plan.latency_rate:,.0f} msg/s offered (microseconds)", ""]
        out += ["| system | p50 | p99 | p99.9 | achieved send rate |", "|---|---|---|---|---|"]
        for system, spreads in results.latency_us.items():
            cells = [
                f"{s.median:,.0f} ({s.low:,.0f}{RANGE_DASH}{s.high:,.0f})" for s in spreads.values()
            ]
            rate = results.latency_rate.get(system, 0.0)
            out.append(f"| {SYSTEMS[system].label} | " + " | ".join(cells) + f" | {rate:,.0f}/s |")
    if results.fanout:
        out += ["", "## Fan-out (aggregate delivered messages per second, 100 B)", ""]
        out += ["| system | " + " | ".join(f"{n} sub" for n in plan.fanout) + " |"]
        out += ["|---|" + "---|" * len(plan.fanout)]
        for system, by_n in results.fanout.items():
            cells = [_rate(by_n[n].median) if n in by_n else "" for n in plan.fanout]
            out.append(f"| {SYSTEMS[system].label} | " + " | ".join(cells) + " |")
    if results.memory:
        out += ["", "## Memory with one frozen subscriber (MiB)", ""]
        out += ["| system | publisher start | publisher end | growth | broker end |"]
        out += ["|---|---|---|---|---|"]
        for system, samples in results.memory.items():
            if not samples:
                continue
            first, last = samples[0], samples[-1]
            broker = f"{last[2] / 2**20:,.1f}" if last[2] else "-"
            out.append(
                f"| {SYSTEMS[system].label} | {first[1] / 2**20:,.1f} | {last[1] / 2**20:,.1f} |"
                f" {(last[1] - first[1]) / 2**20:+,.1f} | {broker} |"
            )
    if plots:
        out += ["", "## Plots", ""]
        out += [
            "One panel per group of systems; raw pyzmq single-frame is in each, as the"
            " yardstick. On a narrow screen, open a plot on its own to read it at full size.",
            "",
        ]
        for name in plots:  # a paragraph each: space between the plots
            out += [f"[![{name}](bench/{name})](bench/{name})", ""]
    out.append("")
    return "\n".join(out)


PANELS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    (
        "radio's ways of sending, against raw pyzmq",
        (BASELINE, "zmq-2frames", "radio", "radio-bulk", "radio-batch"),
    ),
    (
        "asyncio and pure Python",
        (BASELINE, "zmq-asyncio", "radio-aio", "radio-pure", "radio-bulk-pure"),
    ),
    ("brokers", (BASELINE, "radio", "redis", "nats", "mqtt")),
)
"""Each plot is one panel per row here, with at most five systems in a panel (more cannot
be told apart at page width); raw pyzmq single-frame is in each, as the yardstick. A
measured system no panel names gets a panel of its own ("other systems")."""

PLOT_STYLE: Final[dict[str, Any]] = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 11,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "figure.titlesize": 13,
}
"""Point sizes: at `PLOT_DPI` the lettering is about as large as the page's text when the
plot is shown at its own width (`PLOT_WIDTH_IN`)."""

PLOT_DPI: Final = 110
PLOT_WIDTH_IN: Final = 8.5
"""935 pixels: the text column's width on a laptop screen, so the plot is not shrunk."""
PANEL_HEIGHT_IN: Final = 3.0


def panels(measured: list[str]) -> list[tuple[str, list[str]]]:
    """The panels of `PANELS` with the systems of *measured* in them, in the panels' order.

    A panel that would show no system beside the yardstick that an earlier panel did not
    show already is left out; systems no panel names make one more panel.
    """
    chosen: list[tuple[str, list[str]]] = []
    named = {BASELINE}
    for title, systems in PANELS:
        present = [system for system in systems if system in measured]
        if set(present) - named:
            chosen.append((title, present))
            named.update(present)
    rest = [system for system in measured if system not in named]
    if rest:
        yardstick = [BASELINE] if BASELINE in measured else []
        chosen.append(("other systems", yardstick + rest))
    if not chosen and measured:
        chosen.append(("", list(measured)))
    return chosen


def plot(plan: Plan, results: Results, directory: Path) -> list[str]:
    """Write PNG plots into *directory*; return their file names (none without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    style: Any = PLOT_STYLE  # matplotlib types the keys as a Literal of every rc name
    with plt.rc_context(style):
        if results.throughput:
            fig, axes = _figure(plt, results.throughput)
            for ax, (title, systems) in zip(axes, panels(list(results.throughput)), strict=True):
                sizes = list(plan.sizes)
                _grouped_bars(ax, results.throughput, systems, sizes, [_size(s) for s in sizes])
                ax.set_ylabel("messages / s")
                _log_ticks(ax, _count)
                ax.set_title(title)
            fig.suptitle("Throughput, one subscriber (median of runs, range as error bars)")
            written.append(_save(plt, fig, axes, directory / "throughput.png"))
        if results.latency_us:
            fig, axes = _figure(plt, results.latency_us)
            names = ["p50", "p99", "p99.9"]
            for ax, (title, systems) in zip(axes, panels(list(results.latency_us)), strict=True):
                _grouped_bars(ax, results.latency_us, systems, names, names)
                ax.set_ylabel("microseconds")
                _log_ticks(ax, lambda value: f"{value:,.0f}")
                ax.set_title(title)
            fig.suptitle(
                f"One-way latency at {plan.latency_rate:,.0f} msg/s offered, 100 B"
                " (median of runs, range as error bars)"
            )
            written.append(_save(plt, fig, axes, directory / "latency.png"))
        if results.fanout:
            fig, axes = _figure(plt, results.fanout)
            for ax, (title, systems) in zip(axes, panels(list(results.fanout)), strict=True):
                _fanout_lines(ax, results, systems)
                ax.set_ylabel("messages / s")
                _log_ticks(ax, _count)
                ax.set_title(title)
            axes[-1].set_xlabel("subscriber processes (log scale)")
            fig.suptitle("Fan-out, 100 B: aggregate delivered rate (median of runs, range as bars)")
            written.append(_save(plt, fig, axes, directory / "fanout.png"))
        measured = {system: samples for system, samples in results.memory.items() if samples}
        if measured:
            fig, axes = _figure(plt, measured)
            for ax, (title, systems) in zip(axes, panels(list(measured)), strict=True):
                _memory_lines(ax, results, systems)
                ax.set_ylabel("resident MiB")
                ax.set_title(title)
            axes[-1].set_xlabel("messages sent to a frozen subscriber (millions)")
            fig.suptitle(
                "Resident memory of the publisher (and broker, dotted) with one frozen subscriber"
            )
            written.append(_save(plt, fig, axes, directory / "memory.png"))
    return written


def _figure(plt: Any, table: dict[str, Any]) -> tuple[Any, list[Any]]:
    """A figure of page width with one row per panel of *table*'s systems."""
    rows = max(1, len(panels(list(table))))
    fig, axes = plt.subplots(
        rows,
        1,
        figsize=(PLOT_WIDTH_IN, 0.6 + PANEL_HEIGHT_IN * rows),
        squeeze=False,
        layout="constrained",
    )
    return fig, [row[0] for row in axes]


def _grouped_bars(
    ax: Any,
    table: dict[str, dict[Any, Spread]],
    systems: list[str],
    groups: list[Any],
    labels: list[str],
) -> None:
    """One bar per system in each group (log scale), the range of runs as error bars."""
    width = 0.8 / len(systems)
    for index, system in enumerate(systems):
        by_group = table[system]
        present = [g for g in groups if g in by_group]
        spreads = [by_group[g] for g in present]
        ax.bar(
            [groups.index(g) + index * width for g in present],
            [s.median for s in spreads],
            width,
            label=SYSTEMS[system].label,
            yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            error_kw={"elinewidth": 1.2, "capsize": 2},
            **_bar_style(system),
        )
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], labels)
    ax.set_yscale("log")
    ax.grid(axis="y", which="major", alpha=0.3)


def _count(value: float) -> str:
    """A tick's count in few characters: 500, 20k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def _log_ticks(ax: Any, shown: Callable[[float], str]) -> None:
    """Label a log-scale y axis at 1, 2 and 5 times each power of ten, written by *shown*."""
    from matplotlib import ticker

    ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: shown(value)))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _fanout_lines(ax: Any, results: Results, systems: list[str]) -> None:
    """One line per system: aggregate rate against subscribers, both on log scales."""
    all_ns: set[int] = set()
    for system in systems:
        by_n = results.fanout[system]
        ns = sorted(by_n)
        all_ns.update(ns)
        spreads = [by_n[n] for n in ns]
        ax.errorbar(
            ns,
            [s.median for s in spreads],
            yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            marker="o",
            capsize=3,
            label=SYSTEMS[system].label,
            color=_color(system),
            linestyle="--" if SYSTEMS[system].pure else "-",
        )
    ax.set_xscale("log")
    ax.set_xticks(sorted(all_ns), [str(n) for n in sorted(all_ns)])
    ax.minorticks_off()
    ax.set_yscale("log")
    ax.grid(which="major", alpha=0.3)


def _memory_lines(ax: Any, results: Results, systems: list[str]) -> None:
    """The publisher's resident memory per system (and the broker's, where there is one).

    From zero, so that a flat line looks flat: the growth itself is in the table above.
    """
    markers = ["o", "s", "^", "v", "d", "x"]
    for index, system in enumerate(systems):
        samples = results.memory[system]
        sent = [s[0] / 1e6 for s in samples]
        label = SYSTEMS[system].label
        ax.plot(
            sent,
            [s[1] / 2**20 for s in samples],
            marker=markers[index % len(markers)],
            markersize=4,
            linestyle="--" if SYSTEMS[system].pure else "-",
            color=_color(system),
            alpha=0.8,
            label=label,
        )
        if samples[-1][2]:
            ax.plot(
                sent,
                [s[2] / 2**20 for s in samples],
                linestyle=":",
                linewidth=2,
                color=_color(system),
                label=f"{label}: broker",
            )
    ax.set_ylim(0, ax.get_ylim()[1] * 1.1)
    ax.grid(alpha=0.3)


def _save(plt: Any, fig: Any, axes: list[Any], path: Path) -> str:
    """Put each panel's legend at its right, write the figure to *path*, close it."""
    for ax in axes:
        _legend_outside(ax)
    fig.savefig(path, dpi=PLOT_DPI)
    plt.close(fig)
    return path.name


def _color(system: str) -> Any:
    """*system*'s colour: one per system, shared by a pure-Python row and its twin."""
    import matplotlib

    families = [name for name, each in SYSTEMS.items() if not each.pure]
    family = system.removesuffix("-pure")
    index = families.index(family) if family in families else len(families)
    return matplotlib.colormaps["tab10"](index % 10)


def _bar_style(system: str) -> dict[str, Any]:
    """Bar colours: a pure-Python row is its compiled twin's colour, hatched."""
    if SYSTEMS[system].pure:
        return {"color": _color(system), "hatch": "//", "edgecolor": "white", "alpha": 0.75}
    return {"color": _color(system)}


def _legend_outside(ax: Any) -> None:
    """The panel's legend at its right, one system a line: over no data."""
    ax.legend(
        loc="center left",
        bbox_to_anchor=(1.01, 0.5),
        borderaxespad=0.0,
        frameon=False,
    )


KEPT: Final[str] = "<!-- kept by make bench -->"
"""Everything after this line in benchmarks.md survives a new `make bench`."""


def load(docs: Path) -> tuple[Plan, Results, Path, dict[str, str]]:
    """Read back what `write` saved in bench/results.json (to render the page again)."""
    raw = json.loads((docs / "bench" / "results.json").read_text())
    fields: dict[str, Any] = {
        k: tuple(v) if isinstance(v, list) else v for k, v in raw["plan"].items()
    }
    plan = Plan(**fields)
    data = raw["results"]

    def spreads(table: dict[str, dict[str, Any]], key: type) -> dict[Any, Any]:
        return {
            system: {key(k): Spread(**v) for k, v in by.items()} for system, by in table.items()
        }

    results = Results(
        throughput=spreads(data["throughput"], int),
        delivered={s: {int(k): v for k, v in by.items()} for s, by in data["delivered"].items()},
        latency_us=spreads(data["latency_us"], str),
        latency_rate=data["latency_rate"],
        fanout=spreads(data["fanout"], int),
        memory={s: [tuple(x) for x in v] for s, v in data["memory"].items()},
        skipped=data["skipped"],
        cpu={s: {int(k): v for k, v in by.items()} for s, by in data.get("cpu", {}).items()},
        profile=data.get("profile", {}),
    )
    return plan, results, docs, raw["machine"]


def write(plan: Plan, results: Results, docs: Path, info: dict[str, str] | None = None) -> Path:
    """Write benchmarks.md, the plots and the raw figures (JSON) under *docs*.

    *info* (the machine and versions) is read now unless given (re-rendering).
    """
    info = info or machine()
    plots = plot(plan, results, docs / "bench")
    (docs / "bench").mkdir(parents=True, exist_ok=True)
    raw: dict[str, Any] = {"machine": info, "plan": asdict(plan), "results": asdict(results)}
    (docs / "bench" / "results.json").write_text(json.dumps(raw, indent=1, default=str))
    page = docs / "benchmarks.md"
    kept = ""
    if page.exists() and KEPT in (old := page.read_text()):
        kept = "\n" + KEPT + old.split(KEPT, 1)[1]
    page.write_text(markdown(plan, results, info, plots).rstrip("\n") + "\n" + kept)
    return page
