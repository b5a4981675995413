"""The scenarios: a timeline of faults on the simulated hosts, and what each one measured.

Each scenario starts fresh processes on the hosts (the namespaces and cables
stay for the whole run): the relay on B, a library follower and a
`radio-sub --follow -f json` on C and on D, then the publisher on A. Once the
publisher counts every subscriber as a listener it sends at a steady rate; the
fault comes after ``steady_s``, lasts ``fault_s`` and is followed by
``after_s`` of normal service. Then the publisher closes its session and every
subscriber reports what it heard.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from radio import HEARTBEAT_TIMEOUT_S

from .hosts import CliSubscriber, Proc, Topology
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
START_TIMEOUT_S: Final[float] = 30.0
SETTLE_TIMEOUT_S: Final[float] = 5.0
"""How long subscribers get, after the last message, to hear the end of it."""
SUBSCRIBER_HOSTS: Final = ("c", "d")


class ScenarioError(RuntimeError):
    """A scenario could not run (a process did not start or answer in time)."""


@dataclass(frozen=True)
class Scenario:
    """A fault on the simulated network and its timeline (seconds)."""

    name: str
    title: str
    steady_s: float
    fault_s: float = 0.0
    after_s: float = 0.0
    loss: tuple[str, float] | None = None
    """(cable, share of frames dropped each way) during the fault."""
    cut: str | None = None
    """Cable cut silently during the fault."""
    switch_after_s: float | None = None
    """The publisher closes its session and opens a new one this long into the fault."""
    skew_s: dict[str, float] = field(default_factory=dict)
    """Wall-clock offset per host, for the whole scenario."""
    ttl: float | None = None
    freeze_s: float = 0.0
    """Every subscriber is stopped (SIGSTOP) this long at the start of the fault."""
    control: bool = False
    """Also run an unskewed follower on B, next to the relay."""


def hops(host: str) -> int:
    """Cables between the publisher and a subscriber on *host*."""
    return 1 if host == "b" else 2


@dataclass
class Outcome:
    """What one scenario's run produced: every subscriber's report and the publisher's trace."""

    scenario: Scenario
    heard: dict[str, Heard]
    hosts: dict[str, str]
    """Subscriber name -> host."""
    sent: dict[str, int]
    """Session -> messages sent, in the order the sessions were opened."""
    trace: list[dict[str, Any]]
    """The publisher's status lines: mono, live, listeners, rss."""
    started: float
    fault_at: float
    healed_at: float
    switched_at: float | None
    seconds: float


@dataclass
class Stage:
    """The processes of one scenario; all of them are stopped on exit."""

    topology: Topology
    publisher: Proc | None = None
    relay: Proc | None = None
    followers: dict[str, tuple[str, Proc]] = field(default_factory=dict)
    clis: dict[str, tuple[str, CliSubscriber]] = field(default_factory=dict)

    def processes(self) -> Iterator[Proc]:
        """Every process started, subscribers first."""
        yield from (proc for _, proc in self.followers.values())
        yield from (cli.proc for _, cli in self.clis.values())
        yield from (proc for proc in (self.publisher, self.relay) if proc is not None)

    def subscriber_pids(self) -> list[Proc]:
        """The processes of every subscriber."""
        return [proc for _, proc in self.followers.values()] + [
            cli.proc for _, cli in self.clis.values()
        ]

    def last_seq(self, name: str, session: str) -> int:
        """The last sequence number of *session* subscriber *name* has heard."""
        if name in self.clis:
            return self.clis[name][1].last().get(session, 0)
        status = self.followers[name][1].latest("status")
        return 0 if status is None else int(status["last"].get(session, 0))

    def kill_all(self) -> None:
        """Kill whatever still runs (after a failure)."""
        for proc in self.processes():
            proc.signal(signal.SIGCONT)
            proc.signal(signal.SIGKILL)
            proc.finish()


@contextmanager
def stage(topology: Topology) -> Iterator[Stage]:
    """A `Stage` whose processes are all gone when it exits, whatever happened."""
    on_stage = Stage(topology)
    with ExitStack() as stack:
        stack.callback(on_stage.kill_all)
        yield on_stage


def run(topology: Topology, scenario: Scenario) -> Outcome:
    """Play *scenario* on *topology* with fresh processes and collect what they saw."""
    normal = Conditions(HOP_DELAY_S)
    for link in topology.links.values():
        link.set(normal)
    begun = time.monotonic()
    with stage(topology) as on:
        on.relay = topology.relay()
        hosts = [*SUBSCRIBER_HOSTS, *(["b"] if scenario.control else [])]
        for host in hosts:
            skew = scenario.skew_s.get(host, 0.0)
            too_old = (
                None
                if scenario.ttl is None
                else scenario.ttl + hops(host) * HOP_DELAY_S + TTL_MARGIN_S
            )
            on.followers[f"{host}-lib"] = (host, topology.follower(host, skew, too_old))
            if host != "b":
                on.clis[f"{host}-cli"] = (host, topology.radio_sub(host, skew, too_old))
        expected = len(on.followers) + len(on.clis)
        pub = on.publisher = topology.publisher(RATE, scenario.ttl)
        if pub.wait_for("status", lambda s: s["listeners"] == expected, START_TIMEOUT_S) is None:
            raise ScenarioError(
                f"{scenario.name}: the publisher never counted {expected} listeners"
                f" (last status {pub.latest('status')}; logs in {topology.logs})"
            )
        pub.tell("go")
        started = time.monotonic()
        time.sleep(scenario.steady_s)  # the timeline: traffic flows undisturbed

        fault_at = time.monotonic()
        if scenario.loss is not None:
            cable, share = scenario.loss
            topology.links[cable].set(Conditions(HOP_DELAY_S, share))
        if scenario.cut is not None:
            topology.links[scenario.cut].cut()
        if scenario.freeze_s:
            for proc in on.subscriber_pids():
                proc.signal(signal.SIGSTOP)
        switched_at: float | None = None
        if scenario.freeze_s:
            time.sleep(scenario.freeze_s)
            for proc in on.subscriber_pids():
                proc.signal(signal.SIGCONT)
        if scenario.switch_after_s is not None:
            time.sleep(max(0.0, fault_at + scenario.switch_after_s - time.monotonic()))
            pub.tell("switch")
            switched = pub.wait_for("switched", lambda _: True, START_TIMEOUT_S)
            switched_at = None if switched is None else float(switched["mono"])
        time.sleep(max(0.0, fault_at + scenario.fault_s - time.monotonic()))
        for link in topology.links.values():
            link.set(normal)
        healed_at = time.monotonic()
        time.sleep(scenario.after_s)  # the timeline: service after the heal

        pub.tell("stop")
        stopped = pub.wait_for("stopped", lambda _: True, START_TIMEOUT_S)
        if stopped is None:
            raise ScenarioError(f"{scenario.name}: the publisher did not stop")
        sent: dict[str, int] = stopped["sent"]
        final, last = next(reversed(sent.items()))
        names = [*on.followers, *on.clis]
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while time.monotonic() < deadline and any(on.last_seq(n, final) < last for n in names):
            time.sleep(0.02)  # condition poll: every subscriber heard the last message
        heard: dict[str, Heard] = {}
        for _, proc in on.followers.values():
            proc.tell("stop")
        for name, (_, proc) in on.followers.items():
            report = proc.wait_for("final", lambda _: True, START_TIMEOUT_S)
            if report is None:
                raise ScenarioError(f"{scenario.name}: {name} did not report")
            heard[name] = Heard.parse(report["summary"], report["stats"])
        for name, (_, cli) in on.clis.items():
            heard[name] = cli.stop()
        pub.tell("exit")
        pub.finish()
        on.relay.signal(signal.SIGINT)
        on.relay.finish()
        where = {name: host for name, (host, _) in [*on.followers.items(), *on.clis.items()]}
        return Outcome(
            scenario=scenario,
            heard=heard,
            hosts=where,
            sent=sent,
            trace=list(pub.history),
            started=started,
            fault_at=fault_at,
            healed_at=healed_at,
            switched_at=switched_at,
            seconds=time.monotonic() - begun,
        )


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
            loss=("bc", 0.05),
        ),
        Scenario(
            "loss-30",
            "30 % loss on B-C",
            steady_s=1.0,
            fault_s=short,
            after_s=1.0,
            loss=("bc", 0.30),
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
    return found
