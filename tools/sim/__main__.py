"""``python -m tools.sim``: run seeds of the simulator; exit non-zero on any violation."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys

import radio.compiled
from tools.sim.mutations import MUTATIONS, mutated
from tools.sim.profile import Profile
from tools.sim.runner import report, run_seeds, shrink_failures
from tools.sim.scenario import Trim
from tools.sim.shrink import command, shrink
from tools.sim.world import World

SHRUNK_IN_A_BATCH = 3
"""How many failing seeds of a batch are shrunk by default (each takes about a second)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.sim",
        description="Run radio's real cores in a deterministic simulation, seed by seed. "
        "A failing seed is shrunk to a shortest run that fails the same invariant, "
        "printed as a command that replays it (--until, --events, --subscribers, --forgeries).",
    )
    parser.add_argument("--seed", type=int, help="Run this one seed.")
    parser.add_argument("--seeds", type=int, default=100, help="How many seeds to run.")
    parser.add_argument("--start", type=int, default=0, help="The first seed of the range.")
    parser.add_argument(
        "--faults",
        default="",
        help="Comma-separated fault kinds to add: clock_steps, clean_switch, "
        "same_name_restart, slow_reader, oversize, strict, quick_retune, hostile, "
        "two_publishers, switch_back.",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Processes.")
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="Print every violation; with --seed, the plan and every step of the run too.",
    )
    parser.add_argument(
        "--mutation",
        choices=sorted(MUTATIONS),
        help="Plant this bug in the cores first (tools/sim/mutations.py; needs RADIO_PURE=1).",
    )
    parser.add_argument(
        "--shrink",
        type=int,
        help=f"Shrink this many failing seeds to a shortest replay (default: "
        f"{SHRUNK_IN_A_BATCH} of a batch; the one --seed unless it is trimmed already).",
    )
    trim = parser.add_argument_group("a part of the seed's plan (what a shrink prints)")
    trim.add_argument(
        "--until", type=float, help="Stop at this true time (s), before the quiet end's totals."
    )
    trim.add_argument(
        "--events", help="Play only these plan events (numbers as -v prints them, or none)."
    )
    trim.add_argument(
        "--subscribers", help="Only these subscriber slots (renumbered from 0), or none."
    )
    trim.add_argument(
        "--forgeries", help="Send only these of the hostile peer's messages (as made), or none."
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, print; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        profile = Profile.parse(args.faults)
        trim = Trim.parse(args.until, args.events, args.subscribers, args.forgeries)
    except ValueError as exc:
        parser.error(str(exc))
    if args.mutation and radio.compiled.ACTIVE:
        parser.error("--mutation needs the pure-Python cores: set RADIO_PURE=1")
    mutation = args.mutation or ""
    with mutated(mutation) if mutation else contextlib.nullcontext():
        if args.seed is not None:
            shrinks = args.shrink if args.shrink is not None else int(trim == Trim())
            return _one(args.seed, profile, trim, mutation, args.verbose, shrinks > 0)
        if trim != Trim():
            parser.error("--until, --events, --subscribers and --forgeries need --seed")
        summary = run_seeds(range(args.start, args.start + args.seeds), profile, args.jobs)
        summary.mutation = mutation
        shrinks = SHRUNK_IN_A_BATCH if args.shrink is None else args.shrink
        shrink_failures(summary, shrinks, args.jobs)
        print(report(summary, limit=10_000 if args.verbose else 20))
        return 0 if summary.ok else 1


def _one(seed: int, profile: Profile, trim: Trim, mutation: str, verbose: bool, small: bool) -> int:
    """Run one seed (*trim* of its plan); print what it found; shrink it if *small*."""
    world = World(seed, profile, trim, trace=print if verbose else None)
    if verbose:  # the plan, then every step as it happens
        if trim.subscribers is not None:
            print(f"subscriber slots {sorted(trim.subscribers)} play as sub0, sub1...")
        for event in world.plan.events:
            print(
                f"plan #{event.number} t={event.at:.4f} {event.what} "
                f"target={event.target} {event.amount:g}"
            )
    result = world.run()
    print(
        f"seed {seed} ({profile.describe()}): {result.sent} sent, "
        f"{result.yielded} yielded, {result.steps} steps, network drops {result.dropped}"
    )
    for violation in result.violations if verbose else result.violations[:1]:
        print(f"VIOLATION {violation}")
    if result.ok:
        return 0
    print(f"replay: {command(seed, profile, trim, mutation)}")
    whole = result if trim == Trim() else None  # a shrink starts from the whole run
    shrunk = shrink(seed, profile, original=whole, mutation=mutation) if small else None
    if shrunk is not None:
        print(f"shortest replay ({shrunk.sizes()}), failing first with")
        print(f"  {shrunk.result.violations[0]}")
        print(f"  plan: {shrunk.outline() or 'no event'}")
        print(f"  {shrunk.command()}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
