"""Play one scenario on the simulated hosts: start its processes, play its timeline, collect."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from .clock import HostClock
from .hosts import CliSubscriber, Proc, Topology
from .line import Conditions
from .logread import events
from .publisher import read_counter
from .record import Heard, stream
from .scenario import (
    HOP_DELAY_S,
    RATE,
    SUBSCRIBER_HOSTS,
    TTL_MARGIN_S,
    Outcome,
    Scenario,
    Step,
    behind,
    hops,
)
from .timeline import Do, Event, timeline

START_TIMEOUT_S: Final[float] = 30.0
SETTLE_TIMEOUT_S: Final[float] = 5.0
"""How long subscribers get, after the last message, to hear the end of it."""


class ScenarioError(RuntimeError):
    """A scenario could not run (a process did not start or answer in time)."""


@dataclass
class Stage:
    """The processes of one scenario; all of them are stopped on exit."""

    topology: Topology
    scenario: Scenario
    publisher: Proc | None = None
    relay: Proc | None = None
    followers: dict[str, tuple[str, Proc]] = field(default_factory=dict)
    clis: dict[str, tuple[str, CliSubscriber]] = field(default_factory=dict)
    clocks: dict[str, HostClock] = field(default_factory=dict)
    gone: list[Proc] = field(default_factory=list)
    """Publishers killed during the scenario."""

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

    def hosts(self) -> dict[str, str]:
        """Subscriber name -> host."""
        return {name: host for name, (host, _) in [*self.followers.items(), *self.clis.items()]}

    def last_seq(self, name: str, key: str) -> int:
        """The last sequence number of stream *key* subscriber *name* has heard."""
        if name in self.clis:
            return self.clis[name][1].last().get(key, 0)
        status = self.followers[name][1].latest("status")
        return 0 if status is None else int(status["last"].get(key, 0))

    def kill_all(self) -> None:
        """Kill whatever still runs (after a failure)."""
        for proc in self.processes():
            proc.signal(signal.SIGCONT)
            proc.signal(signal.SIGKILL)
            proc.finish()


@contextmanager
def stage(topology: Topology, scenario: Scenario) -> Iterator[Stage]:
    """A `Stage` whose processes are all gone when it exits, whatever happened."""
    on_stage = Stage(topology, scenario)
    with ExitStack() as stack:
        stack.callback(on_stage.kill_all)
        yield on_stage


def _start(on: Stage) -> Proc:
    """Start the relay, the subscribers and the publisher; return the publisher, sending."""
    scenario, topology = on.scenario, on.topology
    for host in sorted(scenario.clocked_hosts):
        path = topology.logs / f"clock-{host}.faketime"
        on.clocks[host] = HostClock(path, scenario.skew_s.get(host, 0.0))
    on.relay = topology.relay()
    hosts = [*SUBSCRIBER_HOSTS, *(["b"] if scenario.control else [])]
    for host in hosts:
        clock = on.clocks.get(host)
        ttl = scenario.ttl
        too_old = None if ttl is None else ttl + hops(host) * HOP_DELAY_S + TTL_MARGIN_S
        on.followers[f"{host}-lib"] = (host, topology.follower(host, clock, too_old))
        if host != "b":
            # Its stats along the way split them between two publisher instances (a
            # status line each second, and a stats copy each message: only when needed).
            split = scenario.restart is not None
            cli = topology.radio_sub(host, clock, too_old, stats=split)
            on.clis[f"{host}-cli"] = (host, cli)
    counter = topology.logs / "publisher-1.sent" if scenario.restart else None
    on.publisher = topology.publisher(RATE, scenario.ttl, counter=counter, clock=on.clocks.get("a"))
    _go(on, on.publisher, len(on.followers) + len(on.clis))
    return on.publisher


def _go(on: Stage, pub: Proc, listeners: int) -> None:
    """Tell *pub* to send once it counts *listeners* listeners."""
    if pub.wait_for("status", lambda s: s["listeners"] >= listeners, START_TIMEOUT_S) is None:
        raise ScenarioError(
            f"{on.scenario.name}: the publisher never counted {listeners} listeners"
            f" (last status {pub.latest('status')}; logs in {on.topology.logs})"
        )
    pub.tell("go")


@dataclass
class Played:
    """What playing the timeline recorded (monotonic times)."""

    switched_at: float | None = None
    cuts: list[tuple[float, float]] = field(default_factory=list)
    steps: list[tuple[float, Step]] = field(default_factory=list)
    killed_at: float | None = None
    restarted_at: float | None = None
    sent_before: dict[str, int] = field(default_factory=dict)
    """What the killed publisher had sent, per stream."""
    trace_before: list[dict[str, Any]] = field(default_factory=list)


def _play(on: Stage, events: list[Event], fault_at: float) -> Played:
    """Do each event at its time (a timeline, not a synchronisation: faults come on schedule)."""
    scenario, topology = on.scenario, on.topology
    normal = Conditions(HOP_DELAY_S)
    played = Played()
    cut_at = 0.0
    for event in events:
        time.sleep(max(0.0, fault_at + event.at_s - time.monotonic()))
        if event.do is Do.DEGRADE and scenario.degraded is not None:
            cable, conditions = scenario.degraded
            topology.links[cable].set(conditions)
        elif event.do is Do.CUT and scenario.cut is not None:
            link = topology.links[scenario.cut]
            sender = None if scenario.one_way is None else scenario.cut.index(scenario.one_way)
            link.cut(sender=sender)
            cut_at = time.monotonic()
        elif event.do is Do.HEAL and scenario.cut is not None:
            topology.links[scenario.cut].cut(False)
            played.cuts.append((cut_at, time.monotonic()))
        elif event.do in (Do.FREEZE, Do.THAW):
            for proc in on.subscriber_pids():
                proc.signal(signal.SIGSTOP if event.do is Do.FREEZE else signal.SIGCONT)
        elif event.do is Do.SWITCH and on.publisher is not None:
            on.publisher.tell("switch")
            switched = on.publisher.wait_for("switched", lambda _: True, START_TIMEOUT_S)
            played.switched_at = None if switched is None else float(switched["mono"])
        elif event.do is Do.STEP and event.step is not None:
            on.clocks[event.step.host].set(event.step.offset_s)
            played.steps.append((time.monotonic(), event.step))
        elif event.do is Do.KILL and on.publisher is not None:
            _kill(on, played)
        elif event.do is Do.RESTART:
            _restart(on, played)
        elif event.do is Do.END:
            for link in topology.links.values():
                link.set(normal)
    return played


def _kill(on: Stage, played: Played) -> None:
    """SIGKILL the publisher; read what it had sent from its counter file."""
    pub = on.publisher
    assert pub is not None
    pub.signal(signal.SIGKILL)
    played.killed_at = time.monotonic()
    pub.finish()
    ready = pub.latest("ready")
    if ready is None:
        raise ScenarioError(f"{on.scenario.name}: the publisher was killed before it was ready")
    counter = on.topology.logs / "publisher-1.sent"
    played.sent_before = {stream(ready["session"], 1): read_counter(str(counter))}
    played.trace_before = list(pub.history)
    on.gone.append(pub)
    on.publisher = None


def _restart(on: Stage, played: Played) -> None:
    """Start a new publisher instance on the killed one's session.

    It sends once it counts every subscriber it can reach (those behind a cut
    cable cannot hear it yet).
    """
    session = next(iter(played.sent_before)).rsplit("@", 1)[0]
    scenario = on.scenario
    pub = on.topology.publisher(RATE, scenario.ttl, session=session, run=2)
    on.publisher = pub
    still_cut = scenario.cut is not None and len(played.cuts) < len(scenario.windows)
    cut_off = behind(scenario.cut) if scenario.cut is not None and still_cut else frozenset()
    reachable = [name for name, host in on.hosts().items() if host not in cut_off]
    _go(on, pub, len(reachable))
    played.restarted_at = time.monotonic()


def _collect(on: Stage, sent: dict[str, int]) -> dict[str, Heard]:
    """Wait until every subscriber heard the last message (or the deadline); stop them all."""
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
            raise ScenarioError(f"{on.scenario.name}: {name} did not report")
        snapshots = [status["stats"] for status in proc.history if "stats" in status]
        heard[name] = Heard.parse(report["summary"], report["stats"], snapshots, events(proc.log))
    for name, (_, cli) in on.clis.items():
        heard[name] = cli.stop()
    return heard


def run(topology: Topology, scenario: Scenario) -> Outcome:
    """Play *scenario* on *topology* with fresh processes and collect what they saw."""
    normal = Conditions(HOP_DELAY_S)
    for link in topology.links.values():
        link.set(normal)
    begun = time.monotonic()
    with stage(topology, scenario) as on:
        _start(on)
        started = time.monotonic()
        time.sleep(scenario.steady_s)  # the timeline: traffic flows undisturbed
        fault_at = time.monotonic()
        played = _play(on, timeline(scenario), fault_at)
        healed_at = time.monotonic()
        time.sleep(scenario.after_s)  # the timeline: service after the heal

        pub = on.publisher
        assert pub is not None
        assert on.relay is not None
        pub.tell("stop")
        stopped = pub.wait_for("stopped", lambda _: True, START_TIMEOUT_S)
        if stopped is None:
            raise ScenarioError(f"{scenario.name}: the publisher did not stop")
        sent: dict[str, int] = {**played.sent_before, **stopped["sent"]}
        heard = _collect(on, sent)
        pub.tell("exit")
        pub.finish()
        on.relay.signal(signal.SIGTERM)  # not SIGINT: see `CliSubscriber.stop`
        on.relay.finish()
        return Outcome(
            scenario=scenario,
            heard=heard,
            hosts=on.hosts(),
            sent=sent,
            trace=[*played.trace_before, *pub.history],
            started=started,
            fault_at=fault_at,
            healed_at=healed_at,
            switched_at=played.switched_at,
            seconds=time.monotonic() - begun,
            cuts=played.cuts,
            steps=played.steps,
            killed_at=played.killed_at,
            restarted_at=played.restarted_at,
        )
