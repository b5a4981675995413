"""A whole run: lay the hosts once, play each scenario on them, gather the checks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import scenarios
from .checks import Check, checks
from .clock import why_no_skew
from .hosts import topology
from .netns import leftovers, why_unavailable
from .play import run
from .scenario import Outcome, Scenario


@dataclass
class Suite:
    """What a run measured: the checks of each scenario, and the scenarios skipped, with why."""

    quick: bool
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0

    def failed(self) -> list[Check]:
        """The checks whose bound did not hold."""
        return [check for check in self.checks if check.met is False]


def run_suite(
    logs: Path,
    *,
    quick: bool,
    only: Sequence[str] = (),
    progress: Callable[[str], None] = lambda _: None,
) -> Suite:
    """Run the scenarios (those named in *only*, or all) and measure their bounds.

    Raises RuntimeError when the harness cannot run here (`why_unavailable`).
    """
    reason = why_unavailable()
    if reason is not None:
        raise RuntimeError(reason)
    suite = Suite(quick)
    started = time.monotonic()
    chosen: list[Scenario] = [s for s in scenarios(quick) if not only or s.name in only]
    with topology(logs) as topo:
        for scenario in chosen:
            no_skew = why_no_skew() if scenario.clocked_hosts else None
            if no_skew is not None:
                suite.skipped[scenario.title] = no_skew
                progress(f"{scenario.name}: skipped ({no_skew})")
                continue
            progress(f"{scenario.name}: {scenario.title} ...")
            outcome = run(topo, scenario)
            suite.outcomes[scenario.name] = outcome
            found = list(checks(outcome))
            suite.checks += found
            failed = [c.measured for c in found if c.met is False]
            progress(
                f"{scenario.name}: {outcome.seconds:.1f} s, "
                + (f"FAILED: {'; '.join(failed)}" if failed else "all bounds met")
            )
    left = leftovers()
    if left:
        raise RuntimeError(f"namespaces left behind: {', '.join(left)}")
    suite.seconds = time.monotonic() - started
    return suite
