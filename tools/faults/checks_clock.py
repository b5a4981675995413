"""Bounds of time: TTLs held on true ages, and wall-clock steps that stop nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from radio import BEACON_INTERVAL_S, OFF_AIR_AFTER_BEACONS

from .check import Check, ms
from .scenario import HOP_DELAY_S, RATE, TTL_MARGIN_S, Outcome, hops

STEP_PAUSE_BOUND_S: Final[float] = 1.0
"""Issue 17: across a wall-clock step, TTL traffic never stops longer than this."""
STEP_EXPIRED_BOUND: Final[int] = int(RATE * STEP_PAUSE_BOUND_S)
"""Issue 17: at most this much traffic (one second of it) counted expired across steps."""


def _clock(outcome: Outcome, host: str) -> str:
    """How *host*'s wall clock was set: ``+5 s``, or the steps it took."""
    scenario = outcome.scenario
    offsets = [step.offset_s for step in scenario.steps if step.host == host]
    if offsets:
        start = scenario.skew_s.get(host, 0.0)
        return "clock " + " → ".join(f"{offset:+g} s" for offset in [start, *offsets])
    return f"clock {scenario.skew_s.get(host, 0.0):+g} s"


def clock_checks(outcome: Outcome) -> Iterator[Check]:
    """TTL bounds (with a TTL) and the bounds of wall-clock steps (with steps)."""
    scenario = outcome.scenario
    heard = outcome.heard
    sent = sum(outcome.sent.values())

    def check(kind: str, measured: str, value: str, bound: str, met: bool | None) -> Check:
        return Check(scenario.title, kind, measured, value, bound, met)

    if scenario.ttl is not None:
        for name in sorted(heard):
            host = outcome.hosts[name]
            h = heard[name]
            label = f"{name} ({_clock(outcome, host)})"
            # The delay of the path when the subscriber started: its estimate keeps the
            # smallest delay seen for a minute, so a cable that slows later changes nothing.
            limit = scenario.ttl + hops(host) * HOP_DELAY_S + TTL_MARGIN_S
            # A process stopped between taking a message and handing it on (radio-sub
            # printing it) hands it on after the freeze: say so when that is the oldest.
            held = (
                h.too_old > 0
                and bool(scenario.freeze_s)
                and any(
                    end == h.age_max_at and start < outcome.fault_at + scenario.freeze_s < end
                    for start, end in h.silences
                )
            )
            yield check(
                "ttl_old",
                f"{label}: delivered older than TTL + delay + 50 ms",
                f"{h.too_old:,} (oldest {ms(h.age_max)}"
                + (
                    "; the first after the thaw, so possibly taken before the freeze"
                    if held
                    else ""
                )
                + ")",
                f"0 (<= {ms(limit)})",
                h.too_old == 0,
            )
            expired = h.stats.get("expired", 0)
            if scenario.freeze_s:
                allowed = int(RATE * (scenario.freeze_s + 0.5))
                measured, bound = (
                    "expired (only those queued while frozen may be)",
                    f"<= {allowed:,}",
                )
            elif scenario.steps:
                allowed = STEP_EXPIRED_BOUND
                measured, bound = "expired across the steps", f"<= {allowed:,} (1 s of traffic)"
            else:
                allowed, measured, bound = -1, "expired", "—"
            yield check(
                "ttl_expired" if allowed >= 0 else "info",
                f"{label}: {measured}",
                f"{expired:,} of {sent:,}",
                bound,
                expired <= allowed if allowed >= 0 else None,
            )
    if not outcome.steps:
        return
    stepped = ", ".join(
        f"{step.host.upper()} {step.offset_s:+g} s at {at - outcome.fault_at:.1f} s"
        for at, step in outcome.steps
    )
    yield check("info", "wall clocks set (into the fault)", stepped, "—", None)
    seen = {
        name: [s["clock_offset"] for s in h.snapshots if "clock_offset" in s]
        for name, h in sorted(heard.items())
    }
    yield check(
        "info",
        "Stats.clock_offset seen (our wall clock minus the publisher's)",
        ", ".join(f"{name} {min(v):+.1f} to {max(v):+.1f} s" for name, v in seen.items() if v),
        "—",
        None,
    )
    first = outcome.steps[0][0]
    end = outcome.healed_at + scenario.after_s
    pauses = {name: h.silent_between(first, end) for name, h in sorted(heard.items())}
    yield check(
        "pause",
        "longest pause in what was yielded, from the first step on",
        ", ".join(f"{name} {ms(pause)}" for name, pause in pauses.items()),
        f"<= {ms(STEP_PAUSE_BOUND_S)} each",
        all(pause <= STEP_PAUSE_BOUND_S for pause in pauses.values()),
    )
    off_air = {name: h.events.get("publisher_off_air", 0) for name, h in sorted(heard.items())}
    yield check(
        "off_air",
        f"publisher declared off air ({OFF_AIR_AFTER_BEACONS} beacons missed:"
        f" {OFF_AIR_AFTER_BEACONS * BEACON_INTERVAL_S:g} s without one)",
        ", ".join(f"{name} {count}" for name, count in off_air.items()),
        "0 each",
        not any(off_air.values()),
    )
