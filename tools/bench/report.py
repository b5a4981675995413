"""Turn a benchmark run into docs/benchmarks.md and PNG plots, from the figures measured."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import zmq

from .phases import KIB, Plan, Results, Spread
from .servers import version
from .systems import SYSTEMS

BASELINE: Final[str] = "zmq-1frame"
TARGETS: Final[tuple[tuple[str, str, float], ...]] = (
    ("radio", "zmq-1frame", 0.7),
    ("radio", "nats", 3.0),
    ("radio", "redis", 6.0),
    ("radio", "mqtt", 15.0),
)
"""(system, compared with, at least this ratio) for 100-byte throughput."""

WHY_MISSED: Final[dict[str, str]] = {
    "zmq-1frame": (
        "radio / raw pyzmq: the publisher, the subscriber and both ZeroMQ I/O threads share"
        " this machine's two cores, so the end-to-end rate is bounded by the CPU each message"
        " costs in all of them together. radio adds Python work per message on both ends:"
        " on send, taking the socket's lock (shared with the service thread) and packing the"
        " sequence number, send time and TTL; on receive, checking topic, version, kind, LIVE"
        " flag, TTL and sequence and building a `Message`. The hot paths were profiled and cut"
        " down (pyzmq's Cython send without its Python wrapper, one struct pack per message,"
        " 256 frames decoded per loop, no per-message logging); what remains is the"
        " per-message Python work the guarantees need. Batching packs frames but not that"
        " work, so it does not close the gap on this machine. Figures vary widely between"
        " runs on this shared machine: see the ranges in the throughput table."
    ),
    "nats": (
        "radio / NATS: nats-py appends each publish to a buffer that asyncio flushes in large"
        " writes, so its sender does little per message; radio's own rate is bounded as"
        " explained above. On a run where the ratio falls short, compare with the run-to-run"
        " range in the throughput table: this machine is shared and noisy."
    ),
    "redis": (
        "radio / Redis: redis-py here pipelines PUBLISH 100 at a time, which makes its sender"
        " cheap per message; radio's own rate is bounded as explained above."
    ),
    "mqtt": (
        "radio / MQTT: paho's QoS 0 rate here is high relative to what the target assumed"
        " (about 26k msg/s), and radio's own rate is bounded as explained above."
    ),
    "latency": (
        "latency p99: at 10k msg/s both sides mostly wait; radio's extra p99 comes from its"
        " per-message work and from the service threads (every 20 ms on each side) that"
        " compete for the interpreter lock with the application's thread."
    ),
}
"""Why a target can be missed on this kind of machine, shown only when it is."""


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
        "pyzmq / libzmq": f"{zmq.pyzmq_version()} / {zmq.zmq_version()}",
        "redis-py / redis-server": f"{package('redis')} / {version('redis-server')}",
        "nats-py / nats-server": f"{package('nats-py')} / {version('nats-server')}",
        "paho-mqtt / mosquitto": f"{package('paho-mqtt')} / {version('mosquitto')}",
    }


def _size(size: int) -> str:
    return f"{size // KIB} KiB" if size >= KIB else f"{size} B"


def _rate(value: float) -> str:
    return f"{value / 1000:,.1f}k" if value < 1e6 else f"{value / 1e6:,.2f}M"


def _ratio(results: Results, system: str, other: str, size: int = 100) -> float | None:
    mine = results.throughput.get(system, {}).get(size)
    theirs = results.throughput.get(other, {}).get(size)
    if mine is None or theirs is None or not theirs.median:
        return None
    return mine.median / theirs.median


def markdown(plan: Plan, results: Results, info: dict[str, str], plots: list[str]) -> str:
    """The benchmark page."""
    out: list[str] = ["# Benchmarks", ""]
    out += [
        "Generated by `make bench` (`python -m tools.bench.main`); every figure below comes"
        " from one run on",
        "the machine described here. Publisher and subscribers run in separate processes on",
        "tcp loopback. The machine is shared and noisy: each throughput and latency figure is",
        f"the median of {plan.repeat} runs, with the range of the runs beside it. Quote ratios",
        "from one run, not absolute numbers across runs.",
        "",
        "## Machine and versions",
        "",
        "| | |",
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
        f" {plan.fanout_count:,} messages of 100 bytes; the aggregate delivered rate.",
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
    out += ["## Headline ratios (100-byte throughput, same run)", ""]
    out += ["| ratio | target | measured | met |", "|---|---|---|---|"]
    for system, other, target in TARGETS:
        ratio = _ratio(results, system, other)
        shown = "not measured" if ratio is None else f"{ratio:.2f}x"
        met = "" if ratio is None else ("yes" if ratio >= target else "**no**")
        pair = f"{SYSTEMS[system].label} / {SYSTEMS[other].label}"
        out.append(f"| {pair} | >= {target:g}x | {shown} | {met} |")
    missed = [
        other
        for system, other, target in TARGETS
        if (r := _ratio(results, system, other)) is not None and r < target
    ]
    if "radio" in results.latency_us and BASELINE in results.latency_us:
        mine = results.latency_us["radio"]["p99"].median
        base = results.latency_us[BASELINE]["p99"].median
        ratio = mine / base if base else 0.0
        out.append(
            f"| latency p99 radio / raw 1 frame | <= 1.3x | {ratio:.2f}x |"
            f" {'yes' if ratio <= 1.3 else '**no**'} |"
        )
        if ratio > 1.3:
            missed.append("latency")
    reasons = [WHY_MISSED[name] for name in missed if name in WHY_MISSED]
    if reasons:
        out += ["", "Targets not met, and why:", ""]
        out += [f"- {reason}" for reason in reasons]
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
            cells.append(f"{_rate(spread.median)} ({_rate(spread.low)}-{_rate(spread.high)}{note})")
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
            cells = [f"{s.median:,.0f} ({s.low:,.0f}-{s.high:,.0f})" for s in spreads.values()]
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
        out += [f"![{name}](bench/{name})" for name in plots]
    out.append("")
    return "\n".join(out)


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
    if results.throughput:
        fig, ax = plt.subplots(figsize=(11, 4.5))
        systems = list(results.throughput)
        width = 0.8 / len(systems)
        for index, system in enumerate(systems):
            sizes = [s for s in plan.sizes if s in results.throughput[system]]
            xs = [plan.sizes.index(s) + index * width for s in sizes]
            spreads = [results.throughput[system][s] for s in sizes]
            ax.bar(
                xs,
                [s.median for s in spreads],
                width,
                label=SYSTEMS[system].label,
                yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            )
        ax.set_xticks(
            [i + 0.4 - width / 2 for i in range(len(plan.sizes))], [_size(s) for s in plan.sizes]
        )
        ax.set_yscale("log")
        ax.set_ylabel("delivered messages / s")
        ax.set_title("Throughput, one subscriber (median of runs, range as error bars)")
        _legend_outside(ax)
        fig.tight_layout()
        fig.savefig(directory / "throughput.png", dpi=110)
        plt.close(fig)
        written.append("throughput.png")
    if results.latency_us:
        fig, ax = plt.subplots(figsize=(11, 4.5))
        names = ["p50", "p99", "p99.9"]
        systems = list(results.latency_us)
        width = 0.8 / len(systems)
        for index, system in enumerate(systems):
            spreads = [results.latency_us[system][n] for n in names]
            ax.bar(
                [i + index * width for i in range(3)],
                [s.median for s in spreads],
                width,
                label=SYSTEMS[system].label,
                yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            )
        ax.set_xticks([i + 0.4 - width / 2 for i in range(3)], names)
        ax.set_yscale("log")
        ax.set_ylabel("one-way latency, microseconds")
        ax.set_title(
            f"Latency at {plan.latency_rate:,.0f} msg/s offered, 100 B (range of runs as bars)"
        )
        _legend_outside(ax)
        fig.tight_layout()
        fig.savefig(directory / "latency.png", dpi=110)
        plt.close(fig)
        written.append("latency.png")
    if results.fanout:
        fig, ax = plt.subplots(figsize=(11, 4.5))
        all_ns: set[int] = set()
        for system, by_n in results.fanout.items():
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
            )
        ax.set_xscale("log")
        ax.set_xticks(sorted(all_ns), [str(n) for n in sorted(all_ns)])
        ax.set_xlabel("subscriber processes (log scale)")
        ax.set_ylabel("aggregate delivered messages / s")
        ax.set_yscale("log")
        ax.set_title("Fan-out, 100 B (median of runs, range as error bars)")
        _legend_outside(ax)
        fig.tight_layout()
        fig.savefig(directory / "fanout.png", dpi=110)
        plt.close(fig)
        written.append("fanout.png")
    if results.memory:
        fig, ax = plt.subplots(figsize=(11, 4.5))
        styles = ["-", "--", ":", "-."]
        markers = ["o", "s", "^", "x", "d", "v"]
        for index, (system, samples) in enumerate(results.memory.items()):
            if samples:
                growth = (samples[-1][1] - samples[0][1]) / 2**20
                ax.plot(
                    [s[0] for s in samples],
                    [s[1] / 2**20 for s in samples],
                    marker=markers[index % len(markers)],
                    linestyle=styles[index % len(styles)],
                    alpha=0.8,
                    label=f"{SYSTEMS[system].label} (publisher, {growth:+.1f} MiB)",
                )
                if samples[-1][2]:
                    ax.plot(
                        [s[0] for s in samples],
                        [s[2] / 2**20 for s in samples],
                        linestyle="--",
                        label=f"{SYSTEMS[system].label} (broker)",
                    )
        ax.set_xlabel("messages sent to a frozen subscriber")
        ax.set_ylabel("resident memory, MiB")
        ax.set_title("Memory with one frozen subscriber (lines that overlap grew alike)")
        _legend_outside(ax)
        fig.tight_layout()
        fig.savefig(directory / "memory.png", dpi=110)
        plt.close(fig)
        written.append("memory.png")
    return written


def _legend_outside(ax: Any) -> None:
    """The legend to the right of the plot, never over the data."""
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0)


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
