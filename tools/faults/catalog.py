"""The scenarios of a full run (`make faults`) and of the trimmed one (`make test`)."""

from __future__ import annotations

from .line import Conditions
from .scenario import HOP_DELAY_S, RECOVERY_BOUND_S, Scenario


def scenarios(quick: bool) -> list[Scenario]:
    """The scenarios of a full run, or the trimmed ones of the test suite (*quick*)."""
    short = 3.0 if quick else 5.0
    found = [
        Scenario("baseline", f"{HOP_DELAY_S * 1000:.0f} ms per hop, no fault", steady_s=short),
        Scenario(
            "loss-5",
            "5 % loss on B-C",
            steady_s=1.0,
            fault_s=short,
            after_s=1.0,
            degraded=("bc", Conditions(HOP_DELAY_S, 0.05)),
        ),
        Scenario(
            "loss-30",
            "30 % loss on B-C",
            steady_s=1.0,
            fault_s=short,
            after_s=1.0,
            degraded=("bc", Conditions(HOP_DELAY_S, 0.30)),
        ),
        Scenario(
            "cut-ab-10",
            "A-B cut 10 s, session switched during the cut",
            steady_s=2.0,
            fault_s=10.0,
            after_s=4.0,
            cut="ab",
            switch_after_s=RECOVERY_BOUND_S + 1.0,
        ),
    ]
    if not quick:
        found.append(
            Scenario(
                "cut-ab-30",
                "A-B cut 30 s, session switched during the cut",
                steady_s=2.0,
                fault_s=30.0,
                after_s=4.0,
                cut="ab",
                switch_after_s=RECOVERY_BOUND_S + 1.0,
            )
        )
    found += [
        Scenario(
            "cut-bc",
            f"B-C cut {6 if quick else 10} s (D unaffected)",
            steady_s=2.0,
            fault_s=6.0 if quick else 10.0,
            after_s=4.0,
            cut="bc",
        ),
        Scenario(
            "skew",
            "C clock +5 s, D clock -5 s, TTL 1 s, subscribers frozen 1.6 s",
            steady_s=2.0,
            fault_s=1.6,
            after_s=2.5,
            skew_s={"c": 5.0, "d": -5.0},
            ttl=1.0,
            freeze_s=1.6,
            control=True,
        ),
    ]
    if not quick:
        found += more_scenarios()
    return found


def more_scenarios() -> list[Scenario]:
    """The scenarios of the full run only (issue 17): clock steps, partial partitions, restart."""
    return []
