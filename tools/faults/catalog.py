"""The scenarios of a full run (`make faults`) and of the trimmed one (`make test`)."""

from __future__ import annotations

from typing import Final

from radio import HEARTBEAT_TIMEOUT_S

from .line import Conditions
from .scenario import HOP_DELAY_S, RECOVERY_BOUND_S, Restart, Scenario, Step


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


STEP_EVERY_S: Final[float] = 2.0
"""Time between two wall-clock steps of a step scenario."""
SLOW_DELAY_S: Final[float] = 0.200
"""One-way delay of the slow host's cable."""
NARROW_BANDWIDTH: Final[float] = 125_000.0
"""Bytes a second of the narrow host's cable (1 Mbit/s): less than the broadcast needs."""
FLAP_DOWN_S: Final[float] = 0.3
FLAP_UP_S: Final[float] = 0.7


def _there_and_back(host: str, offset_s: float, first_at_s: float = 0.0) -> tuple[Step, ...]:
    """*host*'s wall clock steps by *offset_s*, back, by -*offset_s*, back: both ways twice."""
    offsets = (offset_s, 0.0, -offset_s, 0.0)
    return tuple(
        Step(first_at_s + index * STEP_EVERY_S, host, offset)
        for index, offset in enumerate(offsets)
    )


def _flaps(start_s: float, count: int) -> list[tuple[float, float]]:
    """*count* short outages from *start_s*: down `FLAP_DOWN_S`, then up `FLAP_UP_S`."""
    period = FLAP_DOWN_S + FLAP_UP_S
    return [(start_s + n * period, start_s + n * period + FLAP_DOWN_S) for n in range(count)]


def more_scenarios() -> list[Scenario]:
    """The scenarios of the full run only (issue 17): clock steps, partial partitions, restart."""
    steps = len(_there_and_back("c", 5.0)) * STEP_EVERY_S
    long_cut = HEARTBEAT_TIMEOUT_S + 1.0
    flapping = [
        *_flaps(0.0, 5),
        (5.0, 5.0 + long_cut),  # longer than the heartbeat timeout: the connection drops
        *_flaps(5.0 + long_cut + RECOVERY_BOUND_S + 1.0, 4),
    ]
    flapping.append((flapping[-1][1] + FLAP_UP_S, flapping[-1][1] + FLAP_UP_S + long_cut - 0.5))
    return [
        Scenario(
            "step-c",
            "C's wall clock steps +5, -5, -5, +5 s (2 s apart), TTL 1 s",
            steady_s=2.0,
            fault_s=steps,
            after_s=2.0,
            steps=_there_and_back("c", 5.0),
            ttl=1.0,
        ),
        Scenario(
            "step-a",
            "A's (publisher's) wall clock steps +5, -5, -5, +5 s (2 s apart), TTL 1 s",
            steady_s=2.0,
            fault_s=steps,
            after_s=2.0,
            steps=_there_and_back("a", 5.0),
            ttl=1.0,
        ),
        Scenario(
            "step-30",
            "A's wall clock +30 s and back, C's -30 s and back, interleaved, TTL 1 s",
            steady_s=2.0,
            fault_s=steps,
            after_s=2.0,
            steps=(
                Step(0.0, "a", 30.0),
                Step(STEP_EVERY_S, "c", -30.0),
                Step(2 * STEP_EVERY_S, "a", 0.0),
                Step(3 * STEP_EVERY_S, "c", 0.0),
            ),
            ttl=1.0,
        ),
        Scenario(
            "oneway-bc",
            "B→C cut one way 6 s (C→B still flows; D unaffected)",
            steady_s=2.0,
            fault_s=6.0,
            after_s=4.0,
            cut="bc",
            one_way="b",
        ),
        Scenario(
            "oneway-cb",
            "C→B cut one way 6 s (B→C still flows; D unaffected)",
            steady_s=2.0,
            fault_s=6.0,
            after_s=4.0,
            cut="bc",
            one_way="c",
        ),
        Scenario(
            "flap-bc",
            f"B-C flapping: {FLAP_DOWN_S * 1000:.0f} ms down / {FLAP_UP_S * 1000:.0f} ms up,"
            f" with two cuts over the heartbeat timeout ({len(flapping)} outages)",
            steady_s=2.0,
            fault_s=flapping[-1][1],
            after_s=4.0,
            cut="bc",
            outages=tuple(flapping),
        ),
        Scenario(
            "slow-c",
            f"C's cable {SLOW_DELAY_S * 1000:.0f} ms each way (D normal), TTL 1 s",
            steady_s=2.0,
            fault_s=5.0,
            after_s=2.0,
            degraded=("bc", Conditions(SLOW_DELAY_S)),
            ttl=1.0,
        ),
        Scenario(
            "narrow-c",
            f"C's cable {NARROW_BANDWIDTH * 8 / 1e6:g} Mbit/s, below the broadcast's rate"
            " (D normal), TTL 1 s",
            steady_s=2.0,
            fault_s=5.0,
            after_s=3.0,
            degraded=("bc", Conditions(HOP_DELAY_S, bandwidth=NARROW_BANDWIDTH)),
            ttl=1.0,
        ),
        Scenario(
            "restart",
            "publisher SIGKILLed and restarted on its session 1.5 s later, C cut off meanwhile",
            steady_s=2.0,
            fault_s=5.0,
            after_s=4.0,
            cut="bc",
            restart=Restart(kill_at_s=0.5, start_at_s=2.0),
        ),
    ]
