"""One run's random plan, drawn from its seed: hosts, links, workload and faults."""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from typing import Final

from tools.sim.profile import ACTIVE_S, END_S, Profile

MAX_SKEW_S: Final[float] = 3600.0
"""Largest constant skew of a host's wall clock (either way)."""

MAX_DRIFT: Final[float] = 2e-4
"""Largest rate error of a host's clocks (200 ppm)."""

OFF_AIR_S: Final[float] = 1.0
"""A restarted publisher stays down at least this long: longer than three beacon
intervals, so subscribers take it for a new publisher, not a conflicting one."""


@dataclass(frozen=True)
class HostPlan:
    """One host's clocks."""

    skew: float
    drift: float
    origin: float


@dataclass(frozen=True)
class SubscriberPlan:
    """One subscriber slot: its host, link, habits and role."""

    host: HostPlan
    delay_s: float
    jitter_s: float
    loss: float
    read_interval: float
    batch: int
    role: str  # "follow", "tune" or "both"
    max_message_size: int | None


@dataclass(frozen=True)
class Event:
    """Something scheduled at true time *at*: what, to whom (a slot or -1), with what.

    *number* is its place in the plan as drawn (in time order): a `Trim` names it so.
    """

    at: float
    what: str
    target: int = -1
    amount: float = 0.0
    number: int = -1


@dataclass
class Plan:
    """Everything random about one run, drawn up front from the seed."""

    seed: int
    profile: Profile
    publisher: HostPlan
    subscribers: list[SubscriberPlan]
    hwm: int
    batch_size: int
    rate: float
    big_share: float
    events: list[Event] = field(default_factory=list)


def _host(rng: random.Random) -> HostPlan:
    return HostPlan(
        rng.uniform(-MAX_SKEW_S, MAX_SKEW_S),
        rng.uniform(-MAX_DRIFT, MAX_DRIFT),
        rng.uniform(0.0, 1e6),
    )


def draw(seed: int, profile: Profile, rng: random.Random) -> Plan:
    """The plan of run *seed*, drawn from *rng* (``random.Random(seed)``, fresh)."""
    subscribers = [
        SubscriberPlan(
            host=_host(rng),
            delay_s=rng.uniform(0.0005, 0.02),
            jitter_s=rng.choice([0.0, rng.uniform(0.0, 0.01)]),
            loss=rng.choice([0.0, 0.0, rng.uniform(0.0, 0.05)]),
            read_interval=(
                rng.uniform(0.02, 0.2) if profile.slow_reader else rng.uniform(0.002, 0.02)
            ),
            batch=rng.choice([1, 2, 8]) if profile.slow_reader else rng.choice([64, 256]),
            role=rng.choice(["follow", "follow", "tune", "both"]),
            max_message_size=rng.choice([None, 70_000]) if profile.oversize else None,
        )
        for _ in range(rng.randint(1, 3))
    ]
    plan = Plan(
        seed,
        profile,
        _host(rng),
        subscribers,
        hwm=rng.choice([4, 16, 64, 1000]),
        batch_size=rng.choice([1, 1, 1, rng.randint(2, 8)]),
        rate=rng.uniform(20.0, 150.0),
        big_share=rng.choice([0.0, 0.02]) if profile.oversize else rng.choice([0.0, 0.0, 0.02]),
    )
    events = plan.events
    # The publisher: session switches, a crash and restart.
    at = 0.05
    events.append(Event(at, "open"))
    while True:
        at += rng.uniform(0.3, 1.2)
        if at > ACTIVE_S - 0.2:
            break
        events.append(Event(at, "switch", amount=rng.uniform(0.0, 0.3)))
    if rng.random() < 0.25:
        crash = rng.uniform(0.3, ACTIVE_S - OFF_AIR_S - 0.6)
        events.append(Event(crash, "publisher_crash"))
        events.append(Event(crash + rng.uniform(OFF_AIR_S, OFF_AIR_S + 0.4), "publisher_start"))
    # Each subscriber: tuning, cuts, a freeze, a crash and restart.
    for index, sub in enumerate(subscribers):
        start = rng.uniform(0.0, 0.4)
        if sub.role in ("follow", "both"):
            events.append(Event(start, "follow", index))
            if rng.random() < 0.2:
                off = rng.uniform(start, ACTIVE_S)
                events.append(Event(off, "unfollow", index))
                lag = rng.uniform(0.0, 0.05 if profile.quick_retune else 0.5)
                events.append(Event(off + lag, "follow", index))
        if sub.role in ("tune", "both"):
            for _ in range(rng.randint(1, 4)):
                events.append(Event(rng.uniform(start, ACTIVE_S), "tune_in", index))
            for _ in range(rng.randint(0, 3)):
                events.append(Event(rng.uniform(start, ACTIVE_S), "tune_out", index))
            for _ in range(rng.randint(0, 3) if profile.quick_retune else 0):
                lag = rng.choice([0.0, rng.uniform(0.0, 0.05)])
                events.append(Event(rng.uniform(start, ACTIVE_S), "retune", index, lag))
        for _ in range(rng.choice([0, 0, 1, 2])):
            long_cut = rng.random() < 0.3
            duration = rng.uniform(2.1, 2.8) if long_cut else rng.uniform(0.01, 0.5)
            kind = rng.choice(["cut_down", "cut_up", "cut_both"])
            events.append(Event(rng.uniform(0.1, ACTIVE_S - 0.1), kind, index, duration))
        if rng.random() < 0.25:
            duration = rng.choice([rng.uniform(0.05, 0.5), rng.uniform(2.1, 2.8)])
            events.append(Event(rng.uniform(0.1, ACTIVE_S - 0.1), "freeze", index, duration))
        if rng.random() < 0.15:
            crash = rng.uniform(0.2, ACTIVE_S - 0.6)
            events.append(Event(crash, "subscriber_crash", index))
            events.append(Event(crash + rng.uniform(0.05, 0.5), "subscriber_start", index))
    if profile.clock_steps:
        for _ in range(rng.randint(1, 2)):
            target = rng.randint(-1, len(subscribers) - 1)
            step = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 10.0)
            events.append(Event(rng.uniform(0.2, ACTIVE_S - 0.2), "clock_step", target, step))
    events.sort(key=lambda event: event.at)
    plan.events = [replace(event, number=number) for number, event in enumerate(events)]
    return plan


def _numbers(option: str, text: str | None) -> frozenset[int] | None:
    """Comma-separated numbers (``none``: no number) given as --*option*, if given."""
    if text is None:
        return None
    if text.strip() == "none":
        return frozenset()
    try:
        return frozenset(int(number) for number in text.split(",") if number.strip())
    except ValueError:
        wanted = "comma-separated numbers or none"
        raise ValueError(f"--{option} takes {wanted}, not {text!r}") from None


def _listed(numbers: frozenset[int]) -> str:
    return ",".join(str(n) for n in sorted(numbers)) or "none"


@dataclass(frozen=True)
class Trim:
    """Which part of a seed's plan a run plays (by default all of it): what a shrink keeps.

    *until*: the run stops at this true time, before the quiet end (no final
    totals then); *events*: only these plan events (by `Event.number`);
    *subscribers*: only these subscriber slots (renumbered from 0 in that order);
    *forgeries*: only these of a hostile peer's messages (numbered as made: the
    others are still drawn, not sent). Everything else draws as the seed says.
    """

    until: float | None = None
    events: frozenset[int] | None = None
    subscribers: frozenset[int] | None = None
    forgeries: frozenset[int] | None = None

    @classmethod
    def parse(
        cls, until: float | None, events: str | None, subscribers: str | None, forgeries: str | None
    ) -> Trim:
        """A trim from the command line's values (comma-separated numbers, or ``none``)."""
        return cls(
            until if until is None or until < END_S else None,
            _numbers("events", events),
            _numbers("subscribers", subscribers),
            _numbers("forgeries", forgeries),
        )

    def args(self) -> str:
        """The command-line options that give this trim (empty for the whole plan)."""
        words = [] if self.until is None else [f"--until {self.until!r}"]
        for name in ("events", "subscribers", "forgeries"):
            numbers: frozenset[int] | None = getattr(self, name)
            if numbers is not None:
                words.append(f"--{name} {_listed(numbers)}")
        return " ".join(words)

    def apply(self, plan: Plan) -> Plan:
        """*plan* with only what this trim keeps (events past `until` never fire: dropped)."""
        count = len(plan.subscribers)
        slots = [s for s in range(count) if self.subscribers is None or s in self.subscribers]
        renumber = {old: new for new, old in enumerate(slots)}
        events = []
        for event in plan.events:
            if self.events is not None and event.number not in self.events:
                continue
            if self.until is not None and event.at > self.until:
                continue
            if event.target >= 0:
                if event.target not in renumber:
                    continue
                event = replace(event, target=renumber[event.target])
            events.append(event)
        return replace(plan, subscribers=[plan.subscribers[s] for s in slots], events=events)
