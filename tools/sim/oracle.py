"""The oracle: watches one subscriber core step by step and checks the invariants each time."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from radio.core.names import MARKER, TAG_SEPARATOR
from radio.core.tuner import Tuner
from radio.core.wire import Kind
from radio.message import Message
from tools.sim import invariants
from tools.sim.invariants import View
from tools.sim.network import Packet
from tools.sim.profile import BEACON_INTERVAL_S
from tools.sim.truth import OTHER, ROGUE, Meta, Sent, Truth

OFF_AIR_BEACONS = 3
"""Beacon intervals of silence after which a subscriber takes another publisher (the default)."""

ON_AIR_MARGIN_S = 0.1
"""A publisher counts as on air for the conflict check until this long before the core's
deadline: the core times silence by its own monotonic clock and read times."""


@dataclass
class Interval:
    """One continuous span during which a session was heard, and what the core could know.

    ``lo``: the seq after which losses are the subscriber's (its baseline; None
    until it has one); ``hi``: the highest seq it learned; ``delivered``: the
    seqs handed to it. The messages it knowably missed are ``(lo, hi]`` minus
    ``delivered``.
    """

    start: float
    retune: bool = False  # heard before by this core: what was sent before is stale
    lo: int | None = None
    hi: int = 0
    instance: int | None = None
    delivered: set[int] = field(default_factory=set)
    forgiven: int = 0  # skipped by a fenced or oversize frame: uncounted today
    hello: bool = False  # the HELLO of this tune-in was handed over
    zero_from: int | None = None  # the instance whose HELLO said 0 (no instance yet)

    def missed(self) -> int:
        """Messages in ``(lo, hi]`` never handed over (less those forgiven)."""
        if self.lo is None or self.hi <= self.lo:
            return 0
        lo, hi = self.lo, self.hi
        return hi - lo - sum(1 for seq in self.delivered if lo < seq <= hi) - self.forgiven

    def learn(self, seq: int, instance: int) -> None:
        """The core learned that seq *seq* was sent (once it has a baseline)."""
        if self.lo is not None and self.instance in (None, instance):
            self.hi = max(self.hi, seq)


class Observer:
    """Checks one subscriber incarnation against the truth after each of its steps.

    *strict_heads* asks for the guarantee as issue 17 states it (a follower that
    was following counts the whole head of the session it moves to, whatever
    cleared its previous one) instead of the rule the core follows today.
    *strict_skips* counts the messages missing just before a frame the core
    fences (not live, for a follower) or drops as oversize: the core jumps its
    last seq over them without counting them today (`Ledger.fence`,
    `Ledger.oversize`), so the oracle forgives them unless asked.
    """

    def __init__(
        self,
        name: str,
        tuner: Tuner,
        truth: Truth,
        *,
        delay_bound: float,
        strict_heads: bool = False,
        strict_skips: bool = False,
        hostile: bool = False,
        drift: float = 0.0,
    ) -> None:
        self.name = name
        self.hostile = hostile
        self.drift = drift  # the largest rate error between two hosts' clocks
        self.tuner = tuner
        self.truth = truth
        self.delay_bound = delay_bound
        self.strict_heads = strict_heads
        self.strict_skips = strict_skips
        self.violations: list[str] = []
        self.times: list[float] = []  # when each violation was found (true time)
        self.failed: set[str] = set()
        self.explicit: set[str] = set()
        self.yielded = 0
        self.seen: set[int] = set()
        self.last_seq: dict[tuple[int, str], int] = {}
        self.current: dict[str, Interval] = {}
        self.closed: list[Interval] = []
        self.away: dict[str, Interval] = {}  # each session's last interval, once not heard
        self.ever_heard: set[str] = set()
        self.ended: set[tuple[int, str]] = set()
        self.tails = 0  # instances succeeded on a session whose tail was unknowable
        self.tags: dict[str, bytes] = {}
        self.had_live = False
        self.now = 0.0
        self.last_data: dict[str, float] = {}  # when a data message of a session was handed
        self.goes_by: int | None = None  # the publisher instance whose beacons it takes
        self.goes_by_until = 0.0  # ... on air (by its beacons) until then, true time

    # -- the view -----------------------------------------------------------------------

    def view(self) -> View:
        """The core's public state now."""
        tuner = self.tuner
        sessions = tuner.sessions
        return View(
            sessions,
            frozenset(self.explicit & sessions),
            tuner.following,
            tuner.live,
            tuner.snapshot(),
        )

    def fail(self, kind: str, text: str | None) -> None:
        """Record a violation of invariant *kind* (if *text*): the first of each kind only."""
        if text is not None and kind not in self.failed:
            self.failed.add(kind)
            self.violations.append(f"t={self.now:.4f} {self.name}: [{kind}] {text}")
            self.times.append(self.now)

    # -- steps --------------------------------------------------------------------------

    def tuned(self, before: View, now: float) -> None:
        """After a tune_in/tune_out/follow/unfollow."""
        self.now = now
        self._transitions(before, self.view(), moved=False)

    def synced(self, subscriptions: frozenset[bytes], listener_id: bytes) -> None:
        """The socket's subscriptions now: the tag of each session's current tune-in."""
        mark = MARKER + listener_id + TAG_SEPARATOR
        for topic in subscriptions:
            cut = topic.find(mark)
            if cut > 0:
                session = topic[:cut].rstrip(b"/").rpartition(b"/")[2].decode("ascii")
                self.tags[session] = topic[cut + len(mark) :]

    def took(self, packets: list[Packet], yielded: list[Message], before: View, now: float) -> None:
        """After one `Tuner.take` of *packets* that yielded *yielded*."""
        self.now = now
        after = self.view()
        for message in yielded:
            self._check_yield(message, before, now)
        delivered = 0
        for packet in packets:
            meta = packet.meta
            if meta.is_data:
                delivered += len(meta.ids) if meta.session in before.sessions else 1
        self._expiry(packets, before, after, now)
        single = packets[0].meta if len(packets) == 1 else None
        if single is not None and single.listener and single.kind is not Kind.HELLO:
            self._inbox(single, len(yielded), before, after)
        else:
            self.fail(
                "accounting", invariants.delivered_counted(delivered, before.stats, after.stats)
            )
        if single is not None and single.instance == ROGUE:
            self._forged(single, before, after)
        elif single is not None:
            self._learn(single, before, after)
        else:
            for packet in packets:
                self._delivered(packet.meta, before)
        if self.hostile:
            self._bounded(before, after)
        for packet in packets:
            meta = packet.meta
            if meta.is_data and meta.session in before.sessions:
                # From when it was sent: the core bounds a gap by the send times it sees.
                sent = [s for i in meta.ids if (s := self.truth.sent.get(i)) is not None]
                self.last_data[meta.session] = max((s.true_at for s in sent), default=now)
        beacon = packets[0].meta.beacon if len(packets) == 1 else None
        moved = (
            beacon is not None
            and before.following
            and (self.had_live if self.strict_heads else before.live is not None)
        )
        moved = moved and single is not None and single.instance != ROGUE
        moved = moved and after.stats.conflicts == before.stats.conflicts  # a beacon taken
        self._transitions(before, after, moved=moved)
        if moved and beacon is not None and after.live in self.current:
            if self.current[after.live].instance is not None:  # resumed: the beacon's instance?
                self._succeeded(after.live, packets[0].meta.instance, data=True)
            self.current[after.live].learn(beacon.live_seq, packets[0].meta.instance)
        if not self.hostile:
            self.fail("accounting", invariants.gaps_exact(self.expected_gaps(), after.stats))
            self.fail("accounting", invariants.tails_reported(self.tails, after.stats))

    def expected_gaps(self) -> int:
        """What the core could know it missed, over every interval so far."""
        return sum(i.missed() for i in self.closed) + sum(i.missed() for i in self.current.values())

    def finish(self) -> None:
        """At the end, after the quiet phase: the totals."""
        stats = self.tuner.snapshot()
        self.fail("accounting", invariants.received_exact(self.yielded, stats))
        if not self.hostile:
            self.fail("accounting", invariants.gaps_exact(self.expected_gaps(), stats))

    # -- checks that only a hostile peer, clocks or another publisher exercise --------------

    def _expiry(self, packets: list[Packet], before: View, after: View, now: float) -> None:
        """(4, converse) No message counted expired whose true age is below TTL minus slack."""
        expired = after.stats.expired - before.stats.expired
        if not expired:
            return
        slack = self.delay_bound + self.drift * now + invariants.TIME_SLACK_S
        handed = old_enough = 0
        for packet in packets:
            meta = packet.meta
            if not meta.is_data or meta.session not in before.sessions:
                continue
            for ident in meta.ids:
                sent = self.truth.sent.get(ident)
                if sent is None or not sent.ttl:
                    continue
                handed += 1
                if sent.instance == ROGUE or now - sent.true_at >= sent.ttl - slack:
                    old_enough += 1  # a forged send time may make it as old as it likes
        self.fail("expiry", invariants.expired_plausibly(expired, old_enough, handed))

    def _inbox(self, meta: Meta, yielded: int, before: View, after: View) -> None:
        """A last value or a BATCH in our inbox (docs/protocol.md's rule)."""
        interval = self.current.get(meta.session)
        heard_before = interval is not None and bool(interval.delivered)
        gaps = after.stats.gaps - before.stats.gaps
        self.fail("inbox", invariants.inbox_rule(meta.kind.name, heard_before, yielded, gaps))

    def _forged(self, meta: Meta, before: View, after: View) -> None:
        """A hostile peer's frame: what it may not do; the oracle learns nothing from it.

        Save whom a follower goes by: a forged beacon naming a real publisher moves the
        core as that publisher's own would (without CURVE nothing tells them apart), so
        it is judged as that publisher's; one naming no publisher, as an unknown one's.
        """
        if meta.attack == "beacon_interval":
            what = "a beacon with an interval of 0 or 1e9 s"
            self.fail("malformed", invariants.malformed_counted(what, before.stats, after.stats))
        if meta.kind is Kind.BEACON and meta.beacon is not None:
            claimed = self.truth.instances.get(meta.beacon.publisher, ROGUE)
            self._goes_by(replace(meta, instance=claimed), before, after)

    def _bounded(self, before: View, after: View) -> None:
        """(3b, hostile) Gaps added by one step: no more than the sessions could have carried."""
        added = after.stats.gaps - before.stats.gaps
        if added <= 0:
            return
        since = sum(self.now - self.last_data.get(s, 0.0) for s in before.sessions | after.sessions)
        bound = invariants.GAP_RATE_BOUND * max(since, 1e-3) + invariants.GAP_SLACK
        self.fail("bounded", invariants.gaps_bounded(added, bound))

    def _goes_by(self, meta: Meta, before: View, after: View) -> None:
        """(7) Beacons of another publisher are conflicts while the one gone by is on air."""
        beacon = meta.beacon
        if beacon is None:
            return
        accepted = after.stats.conflicts == before.stats.conflicts
        # On air by the oracle's reckoning, with a margin for the subscriber's own timing.
        on_air = self.now < self.goes_by_until - ON_AIR_MARGIN_S
        self.fail(
            "conflict",
            invariants.goes_by_one(accepted, meta.instance, self.goes_by, on_air, before, after),
        )
        if accepted:  # one of no known publisher: nothing to hold its follower's yields to
            self.goes_by = None if beacon.signing_off or meta.instance == ROGUE else meta.instance
            self.goes_by_until = self.now + OFF_AIR_BEACONS * BEACON_INTERVAL_S

    # -- checks -------------------------------------------------------------------------

    def _check_yield(self, message: Message, before: View, now: float) -> None:
        self.yielded += 1
        sent = self.truth.sent.get(int.from_bytes(message.payload[:8], "big"))
        self.fail("stale", invariants.faithful(message, sent))
        if sent is None:
            return
        if sent.instance == ROGUE:
            self._check_forged_yield(message, sent, before)
            return
        key = (sent.instance, sent.session)
        interval = self.current.get(message.session)
        self.fail(
            "stale",
            invariants.not_stale(
                message,
                sent,
                before,
                interval_start=interval.start if interval else None,
                retuned=interval is not None and interval.retune,
                ended_known=key in self.ended,
                follower_live=not self.hostile,
            ),
        )
        # Data frames do not name their publisher: a restart (same names) is heard before
        # its first beacon. So only the other publisher's messages count here.
        going_by = self.goes_by
        follower = message.session not in before.explicit
        if going_by is not None and follower and (sent.instance == OTHER) != (going_by == OTHER):
            self.fail(
                "conflict",
                f"follower yielded {message.session} #{message.seq} of publisher "
                f"{sent.instance} while going by {going_by}",
            )
        last = self.last_seq.get(key)
        self.fail("order", invariants.in_order(message, sent, last, sent.id in self.seen))
        self.fail("ttl", invariants.ttl_honoured(message, sent, now, self.delay_bound))
        self.seen.add(sent.id)
        self.last_seq[key] = message.seq

    def _check_forged_yield(self, message: Message, sent: Sent, before: View) -> None:
        """A hostile peer's message: of a session heard now, never of one learned ended.

        A forged frame that names a publisher instance is judged as that instance's
        own would be: the session learned ended *of that instance* (a restarted
        publisher's session of the same name is another stream, which the
        subscriber hears, and nothing tells a forgery in its name from it without
        CURVE). One that names no known instance: of no session learned ended.
        """
        session = message.session
        if session not in before.sessions:
            self.fail("stale", f"yielded forged {session} #{message.seq} while not hearing it")
        elif (
            (sent.claims, session) in self.ended
            if sent.claims != ROGUE
            else any(name == session for _, name in self.ended)
        ):
            self.fail(
                "stale",
                f"yielded forged {message.session} #{message.seq} after learning "
                f"{message.session} ended",
            )

    # -- what the core could learn ------------------------------------------------------

    def _restarted(self, meta: Meta, *, begun: bool = True) -> Interval | None:
        """`_succeeded` for the session of a data message or END."""
        return self._succeeded(meta.session, meta.instance, data=meta.is_data, begun=begun)

    def _succeeded(
        self, session: str, instance: int, *, data: bool = False, begun: bool = True
    ) -> Interval | None:
        """The session's interval; a new one if *meta* comes from a newer publisher instance.

        A publisher restarted under the same name starts its seqs again: a new
        stream, all of whose messages the subscriber (tuned in all along) hears,
        when the session had a baseline (as `Heard.succeed`); else its first
        message sets the baseline, as the first of a tune-in does.
        An interval belongs to the first instance whose data is handed over. A HELLO
        saying 0 before any instance (`Interval.zero_from`) is a baseline of 0 for
        its own instance's frames only, as `Ledger.hears_from` takes it (*begun*:
        not for a frame the core drops for its size, unweighed by instance).
        """
        interval = self.current.get(session)
        if interval is not None and interval.instance not in (None, instance):
            self.closed.append(interval)
            sent = max(interval.hi, interval.lo or 0) > 0
            if sent and (interval.instance, session) not in self.ended:
                self.tails += 1  # the instance before stopped without an END we heard
            lo = 0 if interval.lo is not None else None  # a baseline: we listened as it began
            interval = Interval(self.now, lo=lo, instance=instance, hello=True)
            self.current[session] = interval
        fresh = interval is not None and interval.instance is None and interval.lo is None
        if fresh and interval is not None and begun and interval.zero_from == instance:
            interval.lo = 0  # its HELLO said 0: we heard it begin
        if interval is not None and interval.instance is None and data:
            interval.instance = instance
        return interval

    def _delivered(self, meta: Meta, before: View) -> None:
        """A data message handed over among others (its session has a baseline already)."""
        if not meta.is_data or meta.session not in before.sessions:
            return
        interval = self._restarted(meta)
        if interval is None:
            return
        for offset in range(len(meta.ids)):
            interval.delivered.add(meta.seq + offset)
            interval.learn(meta.seq + offset, meta.instance)

    def _learn(self, meta: Meta, before: View, after: View) -> None:
        """One message handed over alone: data without a baseline, or control."""
        session = meta.session
        heard = session in before.sessions
        if heard and meta.kind in (Kind.DATA, Kind.BATCH, Kind.END):
            # A frame dropped for its size is not weighed by instance (`Ledger.oversize`).
            self._restarted(meta, begun=after.stats.oversize == before.stats.oversize)
        interval = self.current.get(session) if heard else None
        if meta.is_data:
            fenced = after.stats.fenced - before.stats.fenced
            oversize = after.stats.oversize > before.stats.oversize
            count = len(meta.ids)
            if interval is not None and interval.lo is None:
                if oversize:
                    interval.lo, interval.instance = meta.seq - 1, meta.instance
                elif fenced < count:
                    interval.lo, interval.instance = meta.seq + fenced - 1, meta.instance
            elif interval is not None and (oversize or fenced == count) and not self.strict_skips:
                # The core's last seq is the baseline until something past it is learned.
                interval.forgiven += max(0, meta.seq - max(interval.hi, interval.lo or 0) - 1)
            self._delivered(meta, before)
        elif meta.kind is Kind.END:
            if interval is not None:
                interval.learn(meta.seq, meta.instance)
            if session in before.sessions:
                self.ended.add((meta.instance, session))
        elif meta.kind is Kind.HELLO:
            tag = self.tags.get(session)
            if interval is not None and interval.instance not in (None, meta.instance):
                # Another instance's: it speaks for the session only when it says it sent
                # some and nothing was learned of the one heard (else: it lacks the session).
                sent = max(interval.hi, interval.lo or 0) > 0
                if meta.seq == 0 or sent or tag != meta.tag:
                    return
                interval = self._succeeded(session, meta.instance)
            if interval is not None and tag == meta.tag:
                interval.hello = True
                if interval.instance is None and meta.seq > 0:
                    interval.instance = meta.instance  # it says the session is its own
                if interval.lo is None and interval.instance is None and meta.seq == 0:
                    # A publisher that lacks the session says HELLO 0 too (behind a
                    # relay): the baseline of 0 is for its own instance's frames only.
                    interval.zero_from = meta.instance
                elif interval.lo is None:
                    # Today the core takes the HELLO's word; strictly, the baseline is
                    # what the session had really sent (a closed one's HELLO says 0).
                    interval.lo = meta.true_seq if self.strict_skips else meta.seq
        elif meta.kind is Kind.BEACON and meta.beacon is not None:
            self._goes_by(meta, before, after)
            if after.stats.conflicts != before.stats.conflicts:
                return  # another publisher's: ignored
            beacon = meta.beacon
            if after.stats.malformed == before.stats.malformed:
                self.fail("end", invariants.end_learned(beacon.ended, after.sessions))
            named = set(before.sessions)
            for name, last_seq in beacon.ended:
                if name in named:
                    named.discard(name)
                    self._succeeded(name, meta.instance, data=True)
                    self.current[name].learn(last_seq, meta.instance)
                    self.ended.add((meta.instance, name))
            if beacon.live in named:
                self._succeeded(beacon.live, meta.instance, data=True)
                self.current[beacon.live].learn(beacon.live_seq, meta.instance)
            left = before.live
            if (
                before.following
                and after.live != left
                and left is not None
                and left in named
                and beacon.previous == left
            ):
                self._succeeded(left, meta.instance, data=True)
                self.current[left].learn(beacon.previous_seq, meta.instance)

    def _transitions(self, before: View, after: View, *, moved: bool) -> None:
        """Open an interval for each session heard anew, close the ones no longer heard."""
        if after.live is not None:
            self.had_live = True
        if not after.following:
            self.had_live = False
        for session in before.sessions - after.sessions:
            interval = self.current.pop(session, None)
            if interval is not None:
                self.closed.append(interval)
                self.away[session] = interval
                self.ever_heard.add(session)
        for session in after.sessions - before.sessions:
            interval = Interval(self.now, retune=session in self.ever_heard)
            self.last_data.pop(session, None)  # a head may be counted: since the run began
            if moved and session == after.live:
                interval.lo = 0
                self._resume(interval, session)
            self.away.pop(session, None)
            self.current[session] = interval

    def _resume(self, interval: Interval, session: str) -> None:
        """A follower back on a session it heard (s1, s2, s1) counts on from where it was.

        What it heard or counted of that instance before (up to the highest seq
        learned, or the baseline) is not missed again: the new interval is of the
        same instance and starts there, unless the session ended meanwhile (a
        session of that name again is another one) or nothing set a baseline.
        """
        before = self.away.get(session)
        if before is None or before.lo is None or before.instance is None:
            return
        if (before.instance, session) in self.ended:
            return
        interval.lo, interval.instance = max(before.hi, before.lo), before.instance
