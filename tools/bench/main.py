"""The benchmark (``python -m tools.bench.main``): radio beside raw pyzmq and the brokers."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import click

from tools.cli import configure_logging

from . import phases
from .phases import Plan, Results
from .report import load, write
from .systems import BUILD_ENV, SYSTEMS

QUICK = Plan(
    systems=(),
    sizes=(100,),
    repeat=1,
    zmq_count=2000,
    broker_count=1000,
    latency_rate=1000.0,
    latency_count=500,
    fanout=(1, 2),
    fanout_count=500,
    fanout_zmq_count=500,
    memory_count=20_000,
    profile_frames=5_000,
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--systems",
    default=",".join(SYSTEMS),
    show_default=True,
    help="Comma-separated systems to measure.",
)
@click.option(
    "--phases",
    "wanted",
    default="throughput,latency,fanout,memory,profile",
    show_default=True,
    help="Comma-separated phases to run.",
)
@click.option("--repeat", type=click.IntRange(1, 20), help="Runs per figure (default 5).")
@click.option("--quick", is_flag=True, help="Tiny sizes: proves the harness works in seconds.")
@click.option(
    "--render-only",
    is_flag=True,
    help="Measure nothing: write the page and plots again from --out/bench/results.json.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("docs"),
    show_default=True,
    help="Where benchmarks.md and bench/*.png are written.",
)
def command(
    systems: str, wanted: str, repeat: int | None, quick: bool, render_only: bool, out: Path
) -> None:
    """Measure throughput, latency, fan-out and memory, and write the report into --out."""
    configure_logging("console", verbosity=-1)
    if render_only:
        page = write(*load(out))
        click.echo(f"wrote {page} again from {out / 'bench' / 'results.json'}")
        return
    names = tuple(name.strip() for name in systems.split(",") if name.strip())
    unknown = [name for name in names if name not in SYSTEMS]
    if unknown:
        raise click.BadParameter(f"unknown system(s) {', '.join(unknown)}", param_hint="--systems")
    import radio.compiled  # the build every radio system must still run (`_check_build`)

    os.environ[BUILD_ENV] = radio.compiled.describe()
    results = Results()
    available = []
    for name in names:
        server = SYSTEMS[name].server
        if server and not (shutil.which(server) or shutil.which(server, path="/usr/sbin")):
            results.skipped[name] = f"{server} is not installed (run `make bench-deps`)"
            click.echo(f"skipping {name}: {results.skipped[name]}", err=True)
        else:
            available.append(name)
    base = QUICK if quick else Plan(systems=())
    plan = Plan(**{**base.__dict__, "systems": tuple(available), "repeat": repeat or base.repeat})
    steps: dict[str, Callable[[Plan, Results, phases.Step], None]] = {
        "throughput": phases.throughput,
        "latency": phases.latency,
        "fanout": phases.fanout,
        "memory": phases.memory,
        "profile": phases.profile,
    }
    chosen = [phase.strip() for phase in wanted.split(",") if phase.strip()]
    for phase in chosen:
        if phase not in steps:
            raise click.BadParameter(f"unknown phase {phase!r}", param_hint="--phases")
    total = sum(_steps(plan, phase) for phase in chosen)
    with click.progressbar(
        length=total,
        label="benchmark",
        file=sys.stderr,
        item_show_func=_shown,
        show_pos=True,
    ) as bar:

        def step(label: str) -> None:
            bar.update(1, label)

        for phase in chosen:
            steps[phase](plan, results, step)
    page = write(plan, results, out)
    click.echo(f"wrote {page} and plots in {out / 'bench'}")


def _shown(item: str | None) -> str | None:
    return item


def _steps(plan: Plan, phase: str) -> int:
    systems = len(phases.measured_in(plan, phase))
    return {
        "throughput": systems * len(plan.sizes) * plan.repeat,
        "latency": systems * plan.repeat,
        "fanout": systems * len(plan.fanout) * min(plan.repeat, plan.fanout_repeat),
        "memory": systems,
        "profile": 1,
    }[phase]


def main() -> None:
    """Entry point of ``python -m tools.bench.main`` (``make bench``)."""
    command(prog_name="python -m tools.bench.main")


if __name__ == "__main__":
    main()
