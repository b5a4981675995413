"""Runs many seeds (in a few processes if asked) and sums up what they found."""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from tools.sim.profile import Profile
from tools.sim.shrink import Shrunk, command, shrink
from tools.sim.world import Result, run_seed


@dataclass
class Summary:
    """What a batch of seeds found."""

    profile: Profile
    seeds: int = 0
    seconds: float = 0.0
    sent: int = 0
    yielded: int = 0
    failed: list[Result] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    mutation: str = ""  # a planted bug the seeds ran with
    shrunk: dict[int, Shrunk] = field(default_factory=dict)  # by seed: the first few failures

    @property
    def ok(self) -> bool:
        """Whether every seed held every invariant."""
        return not self.failed


def replay(seed: int, profile: Profile, mutation: str = "") -> str:
    """The command that replays *seed* under *profile* (with *mutation*), verbosely."""
    return command(seed, profile, mutation=mutation)


def invariant_of(violation: str) -> str:
    """The invariant a violation names (``stale``, ``order``, ``accounting``, ``ttl``)."""
    return violation.partition("[")[2].partition("]")[0]


def _run(job: tuple[int, Profile]) -> Result:
    return run_seed(*job)


def _shrink(job: tuple[Result, str]) -> Shrunk | None:
    original, mutation = job
    return shrink(original.seed, original.profile, original=original, mutation=mutation)


def shrink_failures(summary: Summary, count: int, jobs: int = 1) -> None:
    """Shrink the first *count* failing seeds of *summary* (in *jobs* processes)."""
    work = [(result, summary.mutation) for result in summary.failed[:count]]
    if jobs > 1 and len(work) > 1:
        with multiprocessing.get_context("fork").Pool(min(jobs, len(work))) as pool:
            found = pool.map(_shrink, work, chunksize=1)
    else:
        found = [_shrink(job) for job in work]
    summary.shrunk.update((shrunk.seed, shrunk) for shrunk in found if shrunk is not None)


def run_seeds(seeds: Iterable[int], profile: Profile, jobs: int = 1) -> Summary:
    """Run every seed of *seeds* under *profile* (in *jobs* processes); sum it up."""
    summary = Summary(profile)
    started = time.perf_counter()
    work = [(seed, profile) for seed in seeds]
    if jobs > 1:
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            results = pool.map(_run, work, chunksize=max(1, len(work) // (jobs * 8)))
    else:
        results = [_run(job) for job in work]
    for result in results:
        summary.seeds += 1
        summary.sent += result.sent
        summary.yielded += result.yielded
        if not result.ok:
            summary.failed.append(result)
            summary.kinds.update({invariant_of(v) for v in result.violations})
    summary.seconds = time.perf_counter() - started
    return summary


def report(summary: Summary, *, limit: int = 20) -> str:
    """A human summary: totals, then each failing seed with its first violation and replay."""
    lines = [
        f"profile {summary.profile.describe()}: {summary.seeds} seeds in "
        f"{summary.seconds:.1f} s, {summary.sent} messages sent, {summary.yielded} yielded, "
        f"{len(summary.failed)} failed"
    ]
    if summary.kinds:
        lines.append(
            "failed invariants (seeds): "
            + ", ".join(f"{kind} {count}" for kind, count in sorted(summary.kinds.items()))
        )
    for result in summary.failed[:limit]:
        lines.append(f"seed {result.seed}: {result.violations[0]}")
        lines.append(f"  replay: {replay(result.seed, summary.profile, summary.mutation)}")
        shrunk = summary.shrunk.get(result.seed)
        if shrunk is not None:
            lines.append(f"  shortest ({shrunk.sizes()}):")
            lines.append(f"    plan: {shrunk.outline() or 'no event'}")
            lines.append(f"    {shrunk.command()}")
    if len(summary.failed) > limit:
        seeds = " ".join(str(r.seed) for r in summary.failed[limit:])
        lines.append(f"... and seeds {seeds}")
    return "\n".join(lines)
