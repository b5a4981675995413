"""The cores compiled by Cython beside mypyc: CPU per message and simulator time, alternating."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools import ROOT

COMPILERS = ("mypyc", "cython")
"""The builds compared, each a copy of the tree built with ``RADIO_CORES_COMPILER`` set."""

SHOWN = ("tuner_take", "tuner_take_ttl", "session_frame", "radio_send", "radio_send_many")
"""The hot figures of `tools.bench.cores` printed first (every figure is printed)."""


def _copy_tree(into: Path) -> None:
    """Copy the clone's tracked files, as they are in the working tree, *into* a folder."""
    names = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607 - git from the PATH, as make does
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, names):
        source = ROOT / os.fsdecode(name)
        if source.is_file():
            target = into / os.fsdecode(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def _env(tree: Path, **extra: str) -> dict[str, str]:
    """The environment of a child run on the copy in *tree*: only that copy on the path."""
    return {**os.environ, "PYTHONPATH": str(tree), "RADIO_PURE": "0", **extra}


def _build(tree: Path, compiler: str) -> None:
    """Build the copy in *tree* in place with *compiler*; fail unless its cores are compiled."""
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tree,
        env=_env(tree, RADIO_CORES_COMPILER=compiler),
        capture_output=True,
        check=True,
    )
    script = "import radio, radio.compiled as c; print(radio.__file__); print(c.describe())"
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed script
        [sys.executable, "-c", script],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    if not out[0].startswith(str(tree)) or f"cores compiled ({compiler})" not in out[1]:
        raise SystemExit(f"the {compiler} build in {tree} is not in use: {out}")
    print(f"{compiler}: {out[1]}", flush=True)


def _cores_child(tree: Path) -> dict[str, float]:
    """One ``tools.bench.cores --child`` run on the build in *tree*: ns per message."""
    out = subprocess.run(
        [sys.executable, "-m", "tools.bench.cores", "--child"],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    record = json.loads(out)
    if not record["compiled"]:
        raise SystemExit(f"the build in {tree} ran pure Python")
    figures: dict[str, float] = record["ns_per_message"]
    return figures


def _sim(tree: Path, seeds: int) -> tuple[float, float]:
    """Wall and CPU seconds of the simulator over *seeds* seeds, one process, on *tree*."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(  # noqa: S603 - this interpreter, radio's own module
        [sys.executable, "-m", "tools.sim", "--seeds", str(seeds), "--jobs", "1"],
        cwd=tree,
        env=_env(tree),
        capture_output=True,
        check=True,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _line(name: str, by_compiler: dict[str, list[float]], unit: str) -> str:
    """Median and range of each build's figures for *name*, and mypyc's over Cython's."""
    cells = []
    for compiler in COMPILERS:
        values = by_compiler[compiler]
        cells.append(
            f"{compiler} {statistics.median(values):8.1f} [{min(values):.1f}-{max(values):.1f}]"
        )
    ratio = statistics.median(by_compiler["mypyc"]) / statistics.median(by_compiler["cython"])
    return f"  {name:18} {'  '.join(cells)} {unit}  mypyc/cython x{ratio:.2f}"


def main() -> None:
    """Build both copies, alternate their runs, print the medians and ranges."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="Child runs of each build.")
    parser.add_argument("--seeds", type=int, default=300, help="Simulator seeds per run.")
    parser.add_argument("--sim-runs", type=int, default=3, help="Simulator runs of each build.")
    parser.add_argument("--keep", type=Path, help="Build here and keep the copies.")
    args = parser.parse_args()
    top = args.keep or Path(tempfile.mkdtemp(prefix="radio-compilers-"))
    trees = {compiler: top / compiler for compiler in COMPILERS}
    for compiler, tree in trees.items():
        if not (tree / "radio" / "_build.txt").exists():
            _copy_tree(tree)
            _build(tree, compiler)
    figures: dict[str, dict[str, list[float]]] = {}
    for _ in range(args.runs):
        for compiler, tree in trees.items():
            for name, value in _cores_child(tree).items():
                figures.setdefault(name, {c: [] for c in COMPILERS})[compiler].append(value)
    sim: dict[str, dict[str, list[float]]] = {
        "sim wall": {c: [] for c in COMPILERS},
        "sim cpu": {c: [] for c in COMPILERS},
    }
    for _ in range(args.sim_runs):
        for compiler, tree in trees.items():
            wall, cpu = _sim(tree, args.seeds)
            sim["sim wall"][compiler].append(wall)
            sim["sim cpu"][compiler].append(cpu)
    print(f"median [min-max] of {args.runs} alternating runs (each the best of 3):")
    for name in [*SHOWN, *(name for name in figures if name not in SHOWN)]:
        print(_line(name, figures[name], "ns/msg"))
    print(f"simulator, {args.seeds} seeds, one process, {args.sim_runs} alternating runs:")
    for name, by_compiler in sim.items():
        print(_line(name, by_compiler, "s"))
    if args.keep is None:
        shutil.rmtree(top)


if __name__ == "__main__":
    main()
