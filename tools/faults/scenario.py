"""What a scenario is: its faults on the simulated hosts and their timeline, and what it measured.

Each scenario starts fresh processes on the hosts (the namespaces and cables
stay for the whole run): the relay on B, a library follower and a
`radio-sub --follow -f json` on C and on D, then the publisher on A. Once the
publisher counts every subscriber as a listener it sends at a steady rate; the
fault comes after ``steady_s``, lasts ``fault_s`` and is followed by
``after_s`` of normal service. Then the publisher closes its session and every
subscriber reports what it heard. `timeline` turns the faults into timed
events, `play` plays them, `catalog` lists the scenarios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from radio import HEARTBEAT_TIMEOUT_S

from .line import Conditions
from .record import Heard

HOP_DELAY_S: Final[float] = 0.020
"""One-way delay of every cable."""
RATE: Final[float] = 2_000.0
"""Messages per second the publisher sends."""
RECOVERY_BOUND_S: Final[float] = HEARTBEAT_TIMEOUT_S + 1.0
"""DESIGN.md guarantee 9: hear again, and be counted again, this soon after a heal."""
TTL_MARGIN_S: Final[float] = 0.050
"""Guarantee 8: a TTL holds within the one-way delay plus this."""
MEMORY_BOUND: Final[int] = 32 * 2**20
"""Most the publisher may grow during a scenario."""
SUBSCRIBER_HOSTS: Final = ("c", "d")


@dataclass(frozen=True)
class Step:
    """A wall-clock step: *at_s* into the fault, *host*'s clock moves to *offset_s* off true."""

    at_s: float
    host: str
    offset_s: float


@dataclass(frozen=True)
class Restart:
    """The publisher killed (SIGKILL) and started again on the same session name.

    It is killed *kill_at_s* into the fault and started *start_at_s* into it (a
    supervisor's restart delay).
    """

    kill_at_s: float
    start_at_s: float


@dataclass(frozen=True)
class Scenario:
    """A fault on the simulated network and its timeline (seconds)."""

    name: str
    title: str
    steady_s: float
    fault_s: float = 0.0
    after_s: float = 0.0
    degraded: tuple[str, Conditions] | None = None
    """(cable, its conditions both ways) during the fault: loss, a long delay, a bandwidth."""
    cut: str | None = None
    """Cable cut silently during the fault (or during each of ``outages``)."""
    one_way: str | None = None
    """With ``cut``: only the frames this host sends on the cable are dropped."""
    outages: tuple[tuple[float, float], ...] = ()
    """With ``cut``: (from, to) seconds into the fault when it is cut; none: the whole fault."""
    switch_after_s: float | None = None
    """The publisher closes its session and opens a new one this long into the fault."""
    skew_s: dict[str, float] = field(default_factory=dict)
    """Wall-clock offset per host, from the start."""
    steps: tuple[Step, ...] = ()
    """Wall-clock steps during the fault."""
    restart: Restart | None = None
    ttl: float | None = None
    freeze_s: float = 0.0
    """Every subscriber is stopped (SIGSTOP) this long at the start of the fault."""
    control: bool = False
    """Also run an unskewed follower on B, next to the relay."""

    @property
    def windows(self) -> tuple[tuple[float, float], ...]:
        """When ``cut`` is cut, in seconds into the fault."""
        if self.cut is None:
            return ()
        return self.outages or ((0.0, self.fault_s),)

    @property
    def clocked_hosts(self) -> frozenset[str]:
        """Hosts whose wall clock is skewed or stepped (their processes preload libfaketime)."""
        return frozenset(self.skew_s) | {step.host for step in self.steps}

    @property
    def faulty_cable(self) -> str | None:
        """The cable the fault is on (cut or degraded), if any."""
        return self.cut or (self.degraded[0] if self.degraded else None)

    @property
    def loss_free(self) -> bool:
        """Whether every message sent should reach every subscriber."""
        return (
            self.faulty_cable is None
            and not self.freeze_s
            and self.restart is None
            and self.switch_after_s is None
        )


def hops(host: str) -> int:
    """Cables between the publisher and a subscriber on *host*."""
    return 1 if host == "b" else 2


def behind(cable: str) -> frozenset[str]:
    """The subscriber hosts a fault on *cable* cuts off from the publisher."""
    return frozenset(SUBSCRIBER_HOSTS) if cable == "ab" else frozenset(cable[1])


@dataclass
class Outcome:
    """What one scenario's run produced: every subscriber's report and the publishers' trace."""

    scenario: Scenario
    heard: dict[str, Heard]
    hosts: dict[str, str]
    """Subscriber name -> host."""
    sent: dict[str, int]
    """`record.stream` -> messages sent, in the order the streams were opened."""
    trace: list[dict[str, Any]]
    """The publishers' status lines, in order: mono, run, live, listeners, rss."""
    started: float
    fault_at: float
    healed_at: float
    """When the last fault ended: every cable normal again."""
    switched_at: float | None
    seconds: float
    cuts: list[tuple[float, float]] = field(default_factory=list)
    """When ``cut`` was cut and healed again, each time (monotonic)."""
    steps: list[tuple[float, Step]] = field(default_factory=list)
    """When each wall-clock step was made (monotonic)."""
    killed_at: float | None = None
    restarted_at: float | None = None
    """When the restarted publisher started sending."""
