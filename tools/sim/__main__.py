"""``python -m tools.sim``: run seeds of the simulator; exit non-zero on any violation."""

from __future__ import annotations

import argparse
import os
import sys

from tools.sim.profile import Profile
from tools.sim.runner import replay, report, run_seeds
from tools.sim.world import World


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, run, print; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m tools.sim",
        description="Run radio's real cores in a deterministic simulation, seed by seed.",
    )
    parser.add_argument("--seed", type=int, help="Run this one seed.")
    parser.add_argument("--seeds", type=int, default=100, help="How many seeds to run.")
    parser.add_argument("--start", type=int, default=0, help="The first seed of the range.")
    parser.add_argument(
        "--faults",
        default="",
        help="Comma-separated fault kinds to add: clock_steps, clean_switch, "
        "same_name_restart, slow_reader, oversize, strict, quick_retune, hostile, "
        "two_publishers.",
    )
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="Processes.")
    parser.add_argument("-v", "--verbose", action="store_true", help="Print every violation.")
    args = parser.parse_args(argv)
    try:
        profile = Profile.parse(args.faults)
    except ValueError as exc:
        parser.error(str(exc))
    if args.seed is not None:
        world = World(args.seed, profile)
        result = world.run()
        print(
            f"seed {args.seed} ({profile.describe()}): {result.sent} sent, "
            f"{result.yielded} yielded, {result.steps} steps, network drops {result.dropped}"
        )
        if args.verbose:
            for event in world.plan.events:
                print(
                    f"  plan t={event.at:.4f} {event.what} target={event.target} {event.amount:g}"
                )
        for violation in result.violations if args.verbose else result.violations[:1]:
            print(f"VIOLATION {violation}")
        if not result.ok:
            print(f"replay: {replay(args.seed, profile)}")
        return 0 if result.ok else 1
    summary = run_seeds(range(args.start, args.start + args.seeds), profile, args.jobs)
    print(report(summary, limit=10_000 if args.verbose else 20))
    return 0 if summary.ok else 1


if __name__ == "__main__":
    sys.exit(main())
