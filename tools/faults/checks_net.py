"""Bounds of faults on the cables: presence after a cut, recovery after a heal, the spared host."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .check import Check, ms, per
from .scenario import RECOVERY_BOUND_S, Outcome, behind


def _first_below(
    trace: list[dict[str, Any]], since: float, until: float | None, target: int
) -> float | None:
    for status in trace:
        mono = float(status["mono"])
        if mono < since or (until is not None and mono > until):
            continue
        if int(status["listeners"]) <= target:
            return mono - since
    return None


def _first_at_least(trace: list[dict[str, Any]], since: float, target: int) -> float | None:
    for status in trace:
        mono = float(status["mono"])
        if mono >= since and int(status["listeners"]) >= target:
            return mono - since
    return None


def _lasting_heals(outcome: Outcome) -> list[float]:
    """The heals after which the cable stayed whole at least the recovery bound."""
    ends = [start for start, _ in outcome.cuts[1:]] + [outcome.healed_at + outcome.scenario.after_s]
    return [
        healed
        for (_, healed), until in zip(outcome.cuts, ends, strict=True)
        if until - healed >= RECOVERY_BOUND_S
    ]


def network_checks(outcome: Outcome) -> Iterator[Check]:
    """Presence, recovery and the unaffected host's service, for a cut or degraded cable."""
    scenario = outcome.scenario
    heard = outcome.heard
    listeners = len(heard)
    sent = sum(outcome.sent.values())

    def check(kind: str, measured: str, value: str, bound: str, met: bool | None) -> Check:
        return Check(scenario.title, kind, measured, value, bound, met)

    cut = scenario.cut
    if cut is not None:
        cut_off = [name for name, host in outcome.hosts.items() if host in behind(cut)]
        target = listeners - len(cut_off)
        if len(outcome.cuts) == 1 and scenario.restart is None:
            dropped = _first_below(outcome.trace, outcome.fault_at, outcome.switched_at, target)
            yield check(
                "presence_drop",
                f"publisher count {listeners} → {target} after the cut",
                ms(dropped),
                f"<= {RECOVERY_BOUND_S:g} s",
                dropped is not None and dropped <= RECOVERY_BOUND_S,
            )
        back = _first_at_least(outcome.trace, outcome.healed_at, listeners)
        yield check(
            "presence_back",
            f"publisher count back to {listeners} after the heal",
            ms(back),
            f"<= {RECOVERY_BOUND_S:g} s",
            back is not None and back <= RECOVERY_BOUND_S,
        )
        heals = _lasting_heals(outcome)
        again = {
            (name, healed): heard[name].heard_again(healed)
            for name in sorted(cut_off)
            for healed in heals
        }
        worst = max((v for v in again.values() if v is not None), default=None)
        never = sorted({name for (name, _), value in again.items() if value is None})
        after = "the heal" if len(heals) == 1 else f"each of {len(heals)} lasting heals"
        yield check(
            "recovery",
            f"subscribers heard again after {after} (slowest)",
            ms(worst) + (f"; never: {', '.join(never)}" if never else ""),
            f"<= {RECOVERY_BOUND_S:g} s",
            bool(heals) and not never and worst is not None and worst <= RECOVERY_BOUND_S,
        )
        if len(outcome.cuts) > 1:
            first, last = outcome.cuts[0][0], outcome.healed_at
            _, text = per(
                {n: heard[n] for n in cut_off},
                lambda h: round(h.silent_between(first, last) * 1000),
            )
            yield check("info", "longest silence while flapping (ms)", text, "—", None)

    faulty = scenario.faulty_cable
    if faulty is not None and faulty != "ab" and scenario.restart is None:
        spared = {"c", "d"} - behind(faulty)
        for name in sorted(n for n, host in outcome.hosts.items() if host in spared):
            h = heard[name]
            pause = h.silent_between(outcome.fault_at, outcome.healed_at)
            lost = sent - h.received
            yield check(
                "untouched",
                f"{name} (unaffected host): lost, longest pause during the fault",
                f"{lost:,}, {ms(pause)}",
                "0, none over 250 ms",
                lost == 0 and pause == 0.0,
            )
    if scenario.degraded is not None:
        hit = {n: h for n, h in heard.items() if outcome.hosts[n] in behind(scenario.degraded[0])}
        _, text = per(hit, lambda h: h.stats.get("gaps", 0))
        yield check("info", "gaps counted behind the faulty cable", text, "—", None)
