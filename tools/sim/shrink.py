"""Shrinks a failing seed's run to a shortest one that fails the same invariant, and replays it."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final

from tools.sim.profile import END_S, Profile
from tools.sim.scenario import Event, Trim
from tools.sim.world import Result, World

MAX_RUNS: Final[int] = 150
"""Most runs one shrink makes after the original, and one more to name what the shrunk
run plays (a cut run takes 2-30 ms): it counts runs, not seconds, so that the same
failure always shrinks to the same run."""

UNTIL_STEP_S: Final[float] = 1e-4
"""A cut run stops at its first violation's time rounded up to this (four decimals)."""


@dataclass
class Shrunk:
    """A failing run and the shortest run of the same seed found to fail the same way."""

    seed: int
    profile: Profile
    mutation: str  # a planted bug applied to both ("" for none)
    original: Result
    result: Result
    trim: Trim
    runs: int  # runs made to shrink it, the original not counted
    plan: list[Event]  # the shrunk run's plan events, as it plays them

    @property
    def invariant(self) -> str:
        """The invariant both fail first."""
        return self.original.invariant

    def command(self) -> str:
        """The command that replays the shrunk run, step by step (``-v``)."""
        return command(self.seed, self.profile, self.trim, self.mutation)

    def outline(self) -> str:
        """The shrunk plan on one line: each event's number, time, kind and target."""
        return ", ".join(
            f"#{event.number} {event.at:.4f} {event.what}"
            + (f" sub{event.target}" if event.target >= 0 else "")
            for event in self.plan
        )

    def sizes(self) -> str:
        """How much smaller the shrunk run is: steps, subscribers, events, messages."""
        old, new = self.original, self.result
        forgeries = (
            f", {len(new.forgeries)} of {len(old.forgeries)} forgeries" if old.forgeries else ""
        )
        until = f"until t={self.trim.until:.4f}" if self.trim.until is not None else "to the end"
        return (
            f"{new.steps} of {old.steps} steps ({until}), {new.subscribers} of "
            f"{old.subscribers} subscribers, {len(new.events)} of {len(old.events)} events"
            f"{forgeries}, {new.sent} of {old.sent} messages sent; {self.runs} runs"
        )


def command(seed: int, profile: Profile, trim: Trim | None = None, mutation: str = "") -> str:
    """The command that replays *seed* under *profile* (*trim* of its plan), verbosely."""
    words = ["python -m tools.sim", f"--seed {seed}"]
    words += [] if profile == Profile() else [f"--faults {profile.describe()}"]
    words += [f"--mutation {mutation}"] if mutation else []
    words += [trim.args()] if trim is not None and trim.args() else []
    return " ".join([*words, "-v"])


def _until(result: Result) -> float | None:
    """Where a run failing like *result* may stop: just past its first violation."""
    if result.first_at >= END_S:
        return None  # found by the final totals: the whole run is needed
    # A short decimal (the command line says it exactly), never before the violation.
    until = float(f"{math.ceil(result.first_at / UNTIL_STEP_S) * UNTIL_STEP_S:.4f}")
    while until < result.first_at:
        until = float(f"{until + UNTIL_STEP_S:.4f}")
    return until


class _Shrinker:
    """The state of one shrink: the best trim so far, its run, and the runs left."""

    def __init__(self, seed: int, profile: Profile, original: Result, max_runs: int) -> None:
        self.seed, self.profile = seed, profile
        self.invariant = original.invariant
        self.slots = original.subscribers
        self.best, self.trim = original, Trim()
        self.runs, self.max_runs = 0, max_runs

    @property
    def cut(self) -> Trim:
        """The best trim so far, stopped just past its first violation."""
        return replace(self.trim, until=_until(self.best))

    def attempt(self, trim: Trim, *, last: bool = False) -> bool:
        """Run *trim*; keep it, and its run, if it fails the same invariant first, no longer.

        Dropping something changes the random draws after it: a run with fewer events
        may take more steps, and is not kept. Only the *last* run may go past
        `max_runs` (by one).
        """
        if (self.runs >= self.max_runs and not last) or trim == self.trim:
            return False
        self.runs += 1
        result = World(self.seed, self.profile, trim).run()
        if result.ok or result.invariant != self.invariant or result.steps > self.best.steps:
            return False
        self.best, self.trim = result, trim
        return True

    def reduce(
        self, items: list[int], trimmed: Callable[[frozenset[int]], Trim], least: int = 0
    ) -> bool:
        """Drop chunks of *items* (halves, quarters... single ones) while the failure stays.

        The complement step of delta debugging: *trimmed* makes the trim that keeps
        a subset (of at least *least* items). Returns whether anything was dropped.
        """
        dropped = False
        chunk = max(1, len(items) // 2)
        while items and self.runs < self.max_runs:
            start = 0
            while start < len(items):
                kept = items[:start] + items[start + chunk :]
                if len(kept) >= least and self.attempt(trimmed(frozenset(kept))):
                    items, dropped = kept, True
                else:
                    start += chunk
            if chunk == 1:
                break
            chunk = max(1, chunk // 2)
        return dropped

    def shrink(self) -> None:
        """Cut the run to its first violation, then drop subscribers, events, forgeries.

        Last, name just what the shrunk run plays (the same run: the command shows it).
        """
        self.attempt(self.cut)
        changed = True
        while changed and self.runs < self.max_runs:
            kept = self.trim.subscribers
            slots = sorted(kept) if kept is not None else list(range(self.slots))
            changed = self.reduce(slots, self._subscribers, least=1)
            changed |= self.reduce(list(self.best.events), self._events)
            if self.best.forgeries:
                changed |= self.reduce(list(self.best.forgeries), self._forgeries)
        played = replace(self.cut, events=frozenset(self.best.events))
        if self.best.forgeries or self.trim.forgeries is not None:
            played = replace(played, forgeries=frozenset(self.best.forgeries))
        self.attempt(played, last=True)

    def _subscribers(self, kept: frozenset[int]) -> Trim:
        return replace(self.cut, subscribers=kept)  # slots as the plan numbers them

    def _events(self, kept: frozenset[int]) -> Trim:
        return replace(self.cut, events=kept)

    def _forgeries(self, kept: frozenset[int]) -> Trim:
        return replace(self.cut, forgeries=kept)


def shrink(
    seed: int,
    profile: Profile,
    *,
    original: Result | None = None,
    mutation: str = "",
    max_runs: int = MAX_RUNS,
) -> Shrunk | None:
    """Shrink run *seed* (*original*, its whole run, if already made); None if it passes.

    Deterministic: the same failure shrinks to the same run, in at most
    *max_runs* runs. Name the *mutation* applied, if any, for the replay command.
    """
    whole = original if original is not None else World(seed, profile).run()
    if whole.ok:
        return None
    shrinker = _Shrinker(seed, profile, whole, max_runs)
    shrinker.shrink()
    trim = shrinker.trim  # exactly the run `best` is: the command replays it
    plan = World(seed, profile, trim).plan.events
    return Shrunk(seed, profile, mutation, whole, shrinker.best, trim, shrinker.runs, plan)
