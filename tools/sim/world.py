"""One simulated run: builds the hosts, network and processes of a plan and plays it out."""

from __future__ import annotations

import functools
import logging
import random
from dataclasses import dataclass, field

from tools.sim.clocks import HostClock
from tools.sim.network import Network, Path, SubscriberEnd
from tools.sim.profile import ACTIVE_S, END_S, Profile
from tools.sim.publisher import SimPublisher
from tools.sim.rogue import Rogue
from tools.sim.scenario import MAX_DRIFT, MAX_SKEW_S, Event, HostPlan, Plan, Trim, draw
from tools.sim.subscriber import SimSubscriber
from tools.sim.timeline import Timeline
from tools.sim.trace import Trace
from tools.sim.truth import OTHER, Truth

CHANNEL = "sim"
SMALL_PAYLOAD = (16, 64)
BIG_PAYLOAD = (65_536, 80_000)


@dataclass
class Result:
    """What one run found: its violations in time order (the first at *first_at*), its size."""

    seed: int
    profile: Profile
    violations: list[str] = field(default_factory=list)
    sent: int = 0
    yielded: int = 0
    steps: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    first_at: float = END_S
    subscribers: int = 0
    events: tuple[int, ...] = ()  # the plan events it played, by number
    forgeries: tuple[int, ...] = ()  # a hostile peer's messages it sent, by number

    @property
    def ok(self) -> bool:
        """Whether every invariant held."""
        return not self.violations

    @property
    def invariant(self) -> str:
        """The invariant its first violation names (``stale``, ``accounting``...; "" if none)."""
        return self.violations[0].partition("[")[2].partition("]")[0] if self.violations else ""


class World:
    """The hosts, the network and the processes of one run, on one timeline."""

    def __init__(
        self, seed: int, profile: Profile, trim: Trim | None = None, trace: Trace | None = None
    ) -> None:
        self.seed = seed
        self.trace = trace  # a verbose replay: each plan event and subscriber step
        self.rng = random.Random(seed)
        self.trim = trim or Trim()
        self.plan: Plan = self.trim.apply(draw(seed, profile, self.rng))
        self.timeline = Timeline()
        self.truth = Truth()
        self.network = Network(self.timeline, self.rng, self.plan.hwm)
        self.publisher_clock = self._clock(self.plan.publisher)
        self.publisher: SimPublisher | None = None
        self.incarnations = 0
        self.names = 0  # sessions named so far
        self.session_names: list[str] = []
        self.crashed_sessions: list[str] = []
        self.subscribers: list[SimSubscriber | None] = []
        self.retired: list[SimSubscriber] = []
        self.clocks: list[HostClock] = []
        for index, sub in enumerate(self.plan.subscribers):
            self.clocks.append(self._clock(sub.host))
            self.subscribers.append(None)
            end = SubscriberEnd(
                alive=functools.partial(self._sub_alive, index),
                frozen=functools.partial(self._sub_frozen, index),
                subscriptions=functools.partial(self._sub_subscriptions, index),
            )
            self.network.add_slot(Path(sub.delay_s, sub.jitter_s, sub.loss), end)

    def _clock(self, host: HostPlan) -> HostClock:
        return HostClock(self.timeline, skew=host.skew, drift=host.drift, origin=host.origin)

    def _sub_alive(self, index: int) -> bool:
        sub = self.subscribers[index]
        return sub is not None and sub.alive

    def _sub_frozen(self, index: int) -> bool:
        sub = self.subscribers[index]
        return sub is not None and sub.frozen

    def _sub_subscriptions(self, index: int) -> list[bytes]:
        sub = self.subscribers[index]
        return sub.subscriptions() if sub is not None else []

    # -- running ------------------------------------------------------------------------

    def run(self) -> Result:
        """Play the plan out, then the quiet end; check the totals; return the result.

        A trimmed run that stops before the end (`Trim.until`) checks no totals.
        """
        logging.getLogger("radio").setLevel(logging.CRITICAL)
        self._start_publisher(reopen=[])
        for index in range(len(self.plan.subscribers)):
            self._start_subscriber(index)
        for event in self.plan.events:
            self.timeline.at(event.at, functools.partial(self._apply, event))
        self.timeline.at(0.0, self._next_send)
        if self.plan.profile.hostile:
            self._start_rogue()
        if self.plan.profile.two_publishers:
            self._start_other()
        self.timeline.at(ACTIVE_S, self._quiet)
        until = END_S if self.trim.until is None else min(self.trim.until, END_S)
        self.timeline.run_until(until)
        result = Result(self.seed, self.plan.profile, subscribers=len(self.plan.subscribers))
        found: list[tuple[float, str]] = []
        for sub in [*self.retired, *self.subscribers]:
            if sub is None:
                continue
            if until >= END_S and sub.alive and sub in self.subscribers:
                sub.observer.now = self.timeline.now
                sub.observer.finish()
            found += zip(sub.observer.times, sub.observer.violations, strict=True)
            result.yielded += sub.observer.yielded
        found.sort(key=lambda violation: violation[0])
        result.violations = [text for _, text in found]
        result.first_at = found[0][0] if found else END_S
        result.events = tuple(event.number for event in self.plan.events)
        if self.plan.profile.hostile:
            result.forgeries = tuple(self.rogue.played)
        result.sent = len(self.truth.sent)
        result.steps = self.timeline.steps
        counters = self.network.counters
        result.dropped = {
            "hwm": counters.hwm,
            "lost": counters.lost,
            "cut_off": counters.cut_off,
            "filtered": counters.filtered,
        }
        return result

    def _start_publisher(self, reopen: list[str]) -> None:
        self.incarnations += 1
        self.publisher = SimPublisher(
            incarnation=self.incarnations,
            channel=CHANNEL,
            clock=self.publisher_clock,
            timeline=self.timeline,
            network=self.network,
            truth=self.truth,
            publisher_id=self.rng.getrandbits(64).to_bytes(8, "big"),
            batch_size=self.plan.batch_size,
        )
        for session in reopen:
            self.publisher.open(session)

    def _start_subscriber(self, index: int) -> None:
        old = self.subscribers[index]
        if old is not None:
            self.retired.append(old)
        plan = self.plan.subscribers[index]
        sub = SimSubscriber(
            index=index,
            name=f"sub{index}.{len(self.retired)}",
            channel=CHANNEL,
            listener_id=f"{self.rng.getrandbits(64):016x}".encode("ascii"),
            clock=self.clocks[index],
            timeline=self.timeline,
            network=self.network,
            truth=self.truth,
            rng=self.rng,
            read_interval=plan.read_interval,
            batch=plan.batch,
            max_message_size=plan.max_message_size,
            strict_heads=True,
            strict_skips=True,
            hostile=self.plan.profile.hostile,
            trace=self.trace,
        )
        self.subscribers[index] = sub
        # Only now does the network see a live process on the slot: it connects at once.
        self.network.subscriber_started(index)
        if plan.role in ("follow", "both") and old is not None:
            sub.follow()

    # -- a hostile peer, another publisher ----------------------------------------------

    def _start_rogue(self) -> None:
        self.rogue = Rogue(
            channel=CHANNEL,
            timeline=self.timeline,
            network=self.network,
            truth=self.truth,
            rng=random.Random(f"{self.seed}/rogue"),
            clock=self.publisher_clock,
            honest=self._honest_view,
            targets=self._rogue_targets,
            keep=self.trim.forgeries,
        )
        self.rogue.start()

    def _honest_view(self) -> tuple[bytes, dict[str, int], str | None] | None:
        """What a peer on the wire knows of the honest publisher: ID, sessions and seqs, live."""
        pub = self.publisher
        if pub is None or not pub.alive:
            return None
        sessions = {name: state.seq for name, state in pub.core.sessions.items()}
        return pub.publisher_id, sessions, pub.core.live

    def _rogue_targets(self) -> list[tuple[int, bytes, frozenset[str]]]:
        return [
            (index, sub.listener_id, sub.tuner.sessions)
            for index, sub in enumerate(self.subscribers)
            if sub is not None and sub.alive
        ]

    def _start_other(self) -> None:
        """A second publisher on the channel (its own host, ID and sessions), through a relay."""
        rng = self.other_rng = random.Random(f"{self.seed}/other")
        host = HostPlan(
            rng.uniform(-MAX_SKEW_S, MAX_SKEW_S), rng.uniform(-MAX_DRIFT, MAX_DRIFT), 0.0
        )
        self.other = SimPublisher(
            incarnation=OTHER,
            channel=CHANNEL,
            clock=self._clock(host),
            timeline=self.timeline,
            network=self.network,
            truth=self.truth,
            publisher_id=rng.getrandbits(64).to_bytes(8, "big"),
            batch_size=1,
            fan_in=True,
        )
        self.other_names = 0
        self.other_rate = rng.uniform(10.0, 60.0)
        self.timeline.after(rng.uniform(0.0, 0.8), self._other_switch)
        self.timeline.after(0.0, self._other_send)

    def _other_switch(self) -> None:
        other, rng = self.other, self.other_rng
        if self.timeline.now >= ACTIVE_S:
            return
        old = other.core.live
        self.other_names += 1
        other.open(f"o{self.other_names}")
        if old is not None:
            self.timeline.after(rng.uniform(0.0, 0.3), lambda: self._close_if_open(other, old))
        self.timeline.after(rng.uniform(0.4, 1.2), self._other_switch)

    def _other_send(self) -> None:
        other, rng = self.other, self.other_rng
        if self.timeline.now >= ACTIVE_S:
            return
        live = other.core.live
        if live is not None:
            pick = random.Random(f"{self.seed}/{live}")
            ttl = 0.0 if pick.random() < 1 / 3 else pick.uniform(0.05, 1.0)
            other.send(live, ttl, rng.randint(*SMALL_PAYLOAD))
        self.timeline.after(rng.expovariate(self.other_rate), self._other_send)

    def _new_name(self) -> str:
        self.names += 1
        name = f"s{self.names}"
        self.session_names.append(name)
        return name

    # -- the workload -------------------------------------------------------------------

    def _next_send(self) -> None:
        now = self.timeline.now
        if now >= ACTIVE_S:
            return
        pub = self.publisher
        if pub is not None and pub.alive and pub.core.sessions:
            open_sessions = list(pub.core.sessions)
            live = pub.core.live
            session = live if live is not None and self.rng.random() < 0.85 else None
            session = session or self.rng.choice(open_sessions)
            if self.plan.profile.send_many and self.rng.random() < 1 / 3:
                pub.send_many(session, self._ttl(session), self._sizes(self.rng.randint(2, 300)))
            else:
                pub.send(session, self._ttl(session), self._sizes(1)[0])
        self.timeline.after(self.rng.expovariate(self.plan.rate), self._next_send)

    def _sizes(self, count: int) -> list[int]:
        """Sizes of *count* payloads: small, and now and then one of two parts."""
        sizes = []
        for _ in range(count):
            big = self.rng.random() < self.plan.big_share
            sizes.append(self.rng.randint(*(BIG_PAYLOAD if big else SMALL_PAYLOAD)))
        return sizes

    def _ttl(self, session: str) -> float:
        """Each session's TTL, fixed by its name: none for a third, else 50 ms to 1 s."""
        pick = random.Random(f"{self.seed}/{session}")
        return 0.0 if pick.random() < 1 / 3 else pick.uniform(0.05, 1.0)

    def _apply(self, event: Event) -> None:
        if self.trace is not None:
            target = f" sub{event.target}" if event.target >= 0 else ""
            amount = f" {event.amount:g}" if event.amount else ""
            self.trace(f"t={event.at:.4f} plan #{event.number} {event.what}{target}{amount}")
        pub = self.publisher
        up = pub is not None and pub.alive
        what = event.what
        if what == "open" and pub is not None and up:
            pub.open(self._new_name())
        elif what == "switch" and pub is not None and up:
            self._switch(pub, event.amount)
        elif what == "publisher_crash" and pub is not None and up:
            self.crashed_sessions = list(pub.core.sessions)
            pub.crash()
        elif what == "publisher_start" and not up:
            same = self.plan.profile.same_name_restart
            self._start_publisher(self.crashed_sessions if same else [self._new_name()])
        elif what == "clock_step":
            clock = self.publisher_clock if event.target < 0 else self.clocks[event.target]
            clock.step(event.amount)
        else:
            self._apply_subscriber(event)

    def _switch(self, pub: SimPublisher, lag: float) -> None:
        """A new live session: opened before the old one closes (closed first if clean).

        With *switch_back*, half of them are an interlude instead: the new one closes
        again (after 50 ms plus *lag*) while the old one stays open and is live again.
        """
        old = pub.core.live
        if self.plan.profile.switch_back and old is not None and self.rng.random() < 0.5:
            interlude = self._new_name()
            pub.open(interlude)
            self.timeline.after(0.05 + lag, lambda: self._close_if_up(pub, interlude))
            return
        if self.plan.profile.clean_switch:
            if old is not None:
                pub.close(old)
            self.timeline.after(min(lag, 0.1), lambda: self._open_if_up(pub))
            return
        pub.open(self._new_name())
        if old is not None:
            self.timeline.after(lag, lambda: self._close_if_open(pub, old))

    def _open_if_up(self, pub: SimPublisher) -> None:
        if pub.alive:
            pub.open(self._new_name())

    def _close_if_up(self, pub: SimPublisher, session: str) -> None:
        if pub.alive and session in pub.core.sessions:
            pub.close(session)

    def _close_if_open(self, pub: SimPublisher, session: str) -> None:
        if pub.alive and session in pub.core.sessions and pub.core.live != session:
            pub.close(session)

    def _apply_subscriber(self, event: Event) -> None:
        index, what = event.target, event.what
        sub = self.subscribers[index]
        if what == "subscriber_start":
            if sub is None or not sub.alive:
                self._start_subscriber(index)
            return
        if sub is None or not sub.alive or (sub.frozen and not what.startswith("cut_")):
            return  # a stopped process calls nothing
        if what == "follow":
            sub.follow()
        elif what == "unfollow":
            sub.unfollow()
        elif what == "tune_in":
            known = [*self.session_names[-3:], f"s{self.names + 1}"]
            sub.tune_in(self.rng.choice(known))
        elif what == "tune_out":
            heard = sorted(sub.observer.explicit)
            if heard:
                sub.tune_out(self.rng.choice(heard))
        elif what == "retune":
            heard = sorted(sub.observer.explicit & sub.tuner.sessions)
            if heard:
                session = self.rng.choice(heard)
                sub.tune_out(session)
                self.timeline.after(event.amount, lambda: self._tune_in_if_up(sub, session))
        elif what == "freeze":
            sub.freeze(event.amount)
        elif what == "subscriber_crash":
            sub.crash()
        elif what.startswith("cut_"):
            down = what in ("cut_down", "cut_both")
            up = what in ("cut_up", "cut_both")
            self.network.cut(index, down=down, up=up, duration=event.amount)

    def _tune_in_if_up(self, sub: SimSubscriber, session: str) -> None:
        if sub.alive and not sub.frozen:
            sub.tune_in(session)

    def _quiet(self) -> None:
        """The quiet end: heal, thaw, restart; then close every session and let it settle."""
        for index, slot in enumerate(self.network.slots):
            slot.path.cut_down = slot.path.cut_up = False
            sub = self.subscribers[index]
            if sub is not None and sub.frozen:
                sub.thaw()
            elif sub is None or not sub.alive:
                self._start_subscriber(index)
            self.network.thawed(index)
        pub = self.publisher
        if pub is None or not pub.alive:
            self._start_publisher(reopen=[])
        self.timeline.after(0.3, self._close_all)

    def _close_all(self) -> None:
        if self.plan.profile.two_publishers:
            for session in list(self.other.core.sessions):
                self.other.close(session)
        pub = self.publisher
        if pub is None or not pub.alive:
            return
        live = pub.core.live
        for session in [s for s in pub.core.sessions if s != live]:
            pub.close(session)
        if live is not None:
            pub.close(live)


def run_seed(seed: int, profile: Profile | None = None, trim: Trim | None = None) -> Result:
    """Run seed *seed* under *profile* (the honest baseline by default), *trim* of its plan."""
    return World(seed, profile or Profile(), trim).run()
