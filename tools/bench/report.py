"""Turn a benchmark run into docs/benchmarks.md and PNG plots, from the figures measured."""

from __future__ import annotations

import json
import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import zmq

from .phases import CPU_SIDES, KIB, Plan, Results, Spread
from .servers import version
from .systems import SYSTEMS

BASELINE: Final[str] = "zmq-1frame"


@dataclass(frozen=True)
class Target:
    """A target ratio between two systems, measured in one run."""

    label: str
    mine: str
    other: str
    bound: float | None  # None: shown beside the targets, none set
    phase: str = "throughput"  # or "fanout" (at: subscribers) or "latency" (p99)
    at: int = 100  # payload bytes (throughput), subscribers (fanout)

    def ratio(self, results: Results) -> float | None:
        """Mine / other as measured, or None when either was not measured."""
        if self.phase == "latency":
            table = results.latency_us
            pair = [table.get(name, {}).get("p99") for name in (self.mine, self.other)]
        else:
            by = results.fanout if self.phase == "fanout" else results.throughput
            pair = [by.get(name, {}).get(self.at) for name in (self.mine, self.other)]
        mine, theirs = pair
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
)
"""The targets of the performance issue (issue 20) and of the first benchmark (the brokers)."""


def _cpu(results: Results, system: str, size: int) -> str:
    """*system*'s CPU per message at *size* on each side, as the CPU table shows it."""
    sides = results.cpu.get(system, {}).get(size)
    if not sides or not any(sides):
        return f"{system}: not measured"
    return f"{system} " + " / ".join(f"{value:.2f}" for value in sides)


def why_missed(target: Target, results: Results) -> str:
    """Why *target* was missed, from what the run measured (the CPU per message table)."""
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
            " moves a lot between runs on this machine; what sets radio's tail was not"
            " profiled: this page measures it, it does not explain it."
        )
    if target.phase == "fanout":
        return (
            f"{target.label}: with 50 subscriber processes on two cores, the aggregate rate is"
            " bounded by what each subscriber process spends per message, fifty times over,"
            f" plus the publisher. {measured}"
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
        f"the median of {plan.repeat} runs, with the range of the runs beside it; the runs go"
        " round the systems in turn (one run of each, then the next round), so a noisy spell"
        " falls on all of them alike. Quote ratios",
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
    out += ["| ratio | target | measured | met |", "|---|---|---|---|"]
    missed = []
    for target in TARGETS:
        ratio = target.ratio(results)
        shown = "not measured" if ratio is None else f"{ratio:.2f}x"
        if target.bound is None:
            bound, met = "none set", ""
        else:
            bound = f"{'<=' if target.phase == 'latency' else '>='} {target.bound:g}x"
            met = "" if ratio is None else ("yes" if target.met(ratio) else "**no**")
        if ratio is not None and not target.met(ratio):
            missed.append(target)
        out.append(f"| {target.label} | {bound} | {shown} | {met} |")
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
        fig, ax = plt.subplots(figsize=(10, 7))
        _grouped_bars(ax, results.throughput, list(plan.sizes), [_size(s) for s in plan.sizes])
        ax.set_ylabel("delivered messages / s")
        ax.set_title("Throughput, one subscriber (median of runs, range as error bars)")
        written.append(_save(plt, fig, ax, directory / "throughput.png"))
    if results.latency_us:
        fig, ax = plt.subplots(figsize=(10, 7))
        names = ["p50", "p99", "p99.9"]
        _grouped_bars(ax, results.latency_us, names, names)
        ax.set_ylabel("one-way latency, microseconds")
        ax.set_title(
            f"Latency at {plan.latency_rate:,.0f} msg/s offered, 100 B (range of runs as bars)"
        )
        written.append(_save(plt, fig, ax, directory / "latency.png"))
    if results.fanout:
        fig, ax = plt.subplots(figsize=(10, 7))
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
                color=_color(system),
                linestyle="--" if SYSTEMS[system].pure else "-",
            )
        ax.set_xscale("log")
        ax.set_xticks(sorted(all_ns), [str(n) for n in sorted(all_ns)])
        ax.set_xlabel("subscriber processes (log scale)")
        ax.set_ylabel("aggregate delivered messages / s")
        ax.set_yscale("log")
        ax.set_title("Fan-out, 100 B (median of runs, range as error bars)")
        written.append(_save(plt, fig, ax, directory / "fanout.png"))
    if results.memory:
        fig, ax = plt.subplots(figsize=(10, 7))
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
                    color=_color(system),
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
        written.append(_save(plt, fig, ax, directory / "memory.png"))
    return written


def _grouped_bars(
    ax: Any, table: dict[str, dict[Any, Spread]], groups: list[Any], labels: list[str]
) -> None:
    """One bar per system in each group (log scale), the range of runs as error bars."""
    width = 0.8 / len(table)
    for index, (system, by_group) in enumerate(table.items()):
        present = [g for g in groups if g in by_group]
        spreads = [by_group[g] for g in present]
        ax.bar(
            [groups.index(g) + index * width for g in present],
            [s.median for s in spreads],
            width,
            label=SYSTEMS[system].label,
            yerr=[[s.median - s.low for s in spreads], [s.high - s.median for s in spreads]],
            **_bar_style(system),
        )
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], labels)
    ax.set_yscale("log")


def _save(plt: Any, fig: Any, ax: Any, path: Path) -> str:
    """Put the legend below the plot, write it to *path*, close it; return its file name."""
    _legend_outside(ax)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
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
    """The legend below the plot, in columns, at the axis labels' size: over no data.

    Readable where the page shows the image at its own width.
    """
    ax.legend(
        fontsize=11,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.14),
        ncol=3,
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
