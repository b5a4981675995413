"""A simulated subscriber process: drives a real `Tuner` the way `radio.Subscriber` does."""

from __future__ import annotations

import random

from radio.core.names import is_marker
from radio.core.tuner import Tuner
from radio.message import Message
from tools.sim.clocks import HostClock
from tools.sim.invariants import View
from tools.sim.network import SUBSCRIBE, UNSUBSCRIBE, Network, Packet
from tools.sim.oracle import Observer
from tools.sim.scenario import MAX_DRIFT
from tools.sim.timeline import Timeline
from tools.sim.trace import Trace, frames, step
from tools.sim.truth import ROGUE, Truth


class SimSubscriber:
    """One subscriber incarnation on one slot: its core, its reads, its subscriptions.

    It reads up to *batch* messages at a time every *read_interval* seconds (with
    jitter) and hands them to `Tuner.take` in order (every other call to
    `Tuner.take_on`, as the C reader takes them); after a take that moved its
    topics it syncs the socket's subscriptions (markers subscribed last,
    unsubscribed first) and calls `Tuner.synced`, as the driver's ``_sync`` does;
    with nothing left unread it calls `Tuner.check_air`. A frame over
    *max_message_size* goes to `Tuner.oversize` instead, as the driver drops it.
    """

    def __init__(
        self,
        *,
        index: int,
        name: str,
        channel: str,
        listener_id: bytes,
        clock: HostClock,
        timeline: Timeline,
        network: Network,
        truth: Truth,
        rng: random.Random,
        read_interval: float,
        batch: int,
        max_message_size: int | None,
        strict_heads: bool,
        strict_skips: bool,
        hostile: bool = False,
        trace: Trace | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.listener_id = listener_id
        self.clock = clock
        self.timeline = timeline
        self.network = network
        self.rng = rng
        self.takes = 0  # `_take` calls: odd ones use `Tuner.take_on`
        self.read_interval = read_interval
        self.batch = batch
        self.max_message_size = max_message_size
        self.alive = True
        self.frozen = False
        self.trace = trace  # a verbose replay: one line per step
        self.subscribed: frozenset[bytes] = frozenset()
        self.tuner = Tuner(
            channel,
            clock=clock.wall,
            monotonic=clock.monotonic,
            listener_id=listener_id,
            max_message_size=max_message_size,
        )
        self.observer = Observer(
            name,
            self.tuner,
            truth,
            # A frame's delay as the core sees it: the network's, plus the wait in the
            # socket until the next read (the driver's service thread: one interval).
            delay_bound=network.slots[index].path.max_delay_s + 1.5 * read_interval,
            strict_heads=strict_heads,
            strict_skips=strict_skips,
            hostile=hostile,
            drift=2 * MAX_DRIFT,
        )
        self._sync()
        self._schedule_read()  # the world connects it (`Network.subscriber_started`) once placed

    # -- reading ------------------------------------------------------------------------

    def _schedule_read(self) -> None:
        self.timeline.after(self.read_interval * (0.5 + self.rng.random()), self._read)

    def _read(self) -> None:
        if not self.alive or self.frozen:
            return  # a thaw schedules the next read
        packets = self.network.read(self.index, self.batch, self.subscribed)
        run: list[Packet] = []
        for packet in packets:
            meta = packet.meta
            # Alone when the oracle must see its own fate: control, a baseline, a drop.
            alone = not meta.is_data or self._needs_baseline(meta.session)
            alone = alone or self._oversize(packet) or len(packet.frames) > 1
            alone = alone or (not meta.live and meta.session not in self.observer.explicit)
            alone = alone or meta.instance == ROGUE or bool(meta.listener)
            if alone:
                self._take(run)
                run = []
                self._take([packet])
            else:
                run.append(packet)
        self._take(run)
        if not self.network.pending(self.index):
            self.tuner.check_air()  # nothing unread: silence is real
        self._schedule_read()

    def _needs_baseline(self, session: str) -> bool:
        """Whether a message of *session* may set the core's baseline or be fenced as stale."""
        interval = self.observer.current.get(session)
        return interval is not None and (
            interval.lo is None or (interval.retune and not interval.hello)
        )

    def _oversize(self, packet: Packet) -> bool:
        limit = self.max_message_size
        return limit is not None and len(packet.frames) == 1 and len(packet.frames[0]) > limit

    def _take(self, run: list[Packet]) -> None:
        if not run:
            return
        observer = self.observer
        observer.now = self.timeline.now  # a crash is found (and timed) before `took`
        before = observer.view()
        yielded: list[Message] = []
        # The core applies the size limit itself (max_message_size), as in the driver.
        # Every other take goes on from where the last run left off first, as the C
        # reader does (`Tuner.take_on`: `Socket.read_on`); the others as a pure reader.
        self.takes += 1
        take = self.tuner.take_on if self.takes % 2 else self.tuner.take
        try:
            take([frame for packet in run for frame in packet.frames], yielded.append)
        except Exception as exc:  # noqa: BLE001 - any exception is a finding (guarantee 6)
            kinds = ",".join(p.meta.attack or p.meta.kind.name for p in run)
            observer.fail("crash", f"Tuner.take raised {exc!r} on {kinds}")
        observer.took(run, yielded, before, self.timeline.now)
        if self.trace is not None:
            self._trace(f"took {frames(run)}", before, yielded)
        if self.tuner.changed:
            self._sync()

    def _sync(self) -> None:
        """Make the socket's subscriptions match the core's (the driver's ``_sync``)."""
        wanted = self.tuner.subscriptions(self.listener_id)
        leaving, joining = self.subscribed - wanted, wanted - self.subscribed
        events = [UNSUBSCRIBE + t for t in sorted(leaving, key=lambda t: not is_marker(t))]
        events += [SUBSCRIBE + t for t in sorted(joining, key=is_marker)]
        self.subscribed = wanted
        self.tuner.synced()
        self.observer.synced(wanted, self.listener_id)
        if self.alive:
            self.network.subscribe(self.index, events)

    def subscriptions(self) -> list[bytes]:
        """Every subscription, in the order a reconnect sends them (markers last)."""
        return sorted(self.subscribed, key=lambda t: (is_marker(t), t))

    # -- the application ----------------------------------------------------------------

    def tune_in(self, session: str) -> None:
        """The application tunes in to *session*."""
        before = self.observer.view()
        self.tuner.tune_in(session)
        self.observer.explicit.add(session)
        self._tuned(before, f"tune_in {session}")

    def tune_out(self, session: str) -> None:
        """The application tunes out of *session*."""
        before = self.observer.view()
        self.tuner.tune_out(session)
        self.observer.explicit.discard(session)
        self._tuned(before, f"tune_out {session}")

    def follow(self) -> None:
        """The application follows the live session."""
        before = self.observer.view()
        self.tuner.follow()
        self._tuned(before, "follow")

    def unfollow(self) -> None:
        """The application stops following."""
        before = self.observer.view()
        self.tuner.unfollow()
        self._tuned(before, "unfollow")

    def _tuned(self, before: View, what: str) -> None:
        self._sync()
        self.observer.tuned(before, self.timeline.now)
        if self.trace is not None:
            self._trace(what, before, [])

    def _trace(self, what: str, before: View, yielded: list[Message]) -> None:
        assert self.trace is not None
        observer = self.observer
        knowable = None if observer.hostile else observer.expected_gaps()
        now, after = self.timeline.now, observer.view()
        self.trace(step(now, self.name, what, before, after, yielded, knowable))

    # -- faults -------------------------------------------------------------------------

    def freeze(self, duration: float) -> None:
        """SIGSTOP for *duration* seconds: nothing read, no heartbeats answered."""
        if not self.alive or self.frozen:
            return
        self.frozen = True
        self.network.changed(self.index)
        self.timeline.after(duration, self.thaw)

    def thaw(self) -> None:
        """SIGCONT."""
        if not self.frozen:
            return
        self.frozen = False
        self.network.thawed(self.index)
        if self.alive:
            self._schedule_read()

    def crash(self) -> None:
        """The process dies (its connection ends; the publisher hears it leave)."""
        self.alive = False
        self.frozen = False
        self.network.subscriber_crashed(self.index)
