"""What a subscriber learns from beacons: which publisher it goes by, on air or not, its clock."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from radio.core.wire import Beacon
from radio.logs import RateLimitedLog, get_logger

log = get_logger()

SAME_CLOCK_TOLERANCE_S = 0.05
"""Two publisher instances whose wall minus monotonic clocks agree this closely share
their monotonic clock (one host or kernel): the offset estimate outlives a restart.
Two hosts would need wall clocks in step and boots within this of each other."""

WALL_BASE_TOLERANCE_S: Final[float] = 0.001
"""A beacon's wall base (the publisher's wall minus monotonic clock) that differs from
the one in use by more than this replaces it: a wall-clock step of the publisher, or
the drift of a slewed clock, shows in `Message.sent_at` to within this."""

CLOCK_SKEW_WARNING_S = 1.0
"""An estimated wall-clock skew beyond this (either way) is logged once as ``clock_skew``."""

MAX_CLOCKS: Final[int] = 64
"""Publisher instances whose clock offset is kept; the one least recently heard goes first."""


class Air:
    """Beacon bookkeeping for one channel: pure, clock-injected.

    A subscriber goes by one publisher at a time: the first whose beacon it hears.
    While that one is on air, another publisher's beacons on the channel are a
    *conflict* (counted, logged) and move nothing; once it has been silent for
    ``off_air_after`` beacon intervals, or signs off, the next publisher heard
    is the one gone by.

    Every time here is a monotonic clock: ours (arrivals, silences) or a
    publisher's (the send times in headers). `clock` estimates the difference
    of the two per publisher instance (every header names its instance); a new
    instance on the clock of one heard before (a restart in place: see
    `_same_clock`) starts from that one's estimate. The *lead* is the instance
    whose clock turns send times into `Message.sent_at`: the publisher gone by,
    or before any beacon the first instance a message was yielded of; `offset`
    is its estimate. `wall_base` is the lead's wall clock minus its monotonic
    one, from its latest beacon (None before one).
    """

    def __init__(
        self,
        channel: str,
        off_air_after: int,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.off_air_after = off_air_after
        self.publisher: bytes | None = None
        self.on_air = False
        self.last_beacon: float | None = None  # by *monotonic*
        self.interval = 0.0
        self.announced: Beacon | None = None  # the last beacon of the publisher gone by
        self.announced_at: float | None = None  # its send time (publisher's clock)
        self.conflicts = 0
        self.clocks: OrderedDict[bytes, ClockOffset] = OrderedDict()  # least recent first
        self.walls: dict[bytes, float] = {}  # an instance's wall base, from its beacons
        self._hinted: dict[bytes, bytes] = {}  # a new instance -> the lead it may share a clock
        self.lead: bytes | None = None
        self.wall_base: float | None = None
        self.resets = 0  # how many times the lead changed (another publisher instance)
        # What turns a header's send time into `Message.sent_at` (None: nothing yielded yet),
        # and who moves what was yielded when it changes (the subscriber's ready queue).
        self.base: float | None = None
        self.on_rebase: Callable[[float], object] | None = None
        self._skew_logged = False
        self._clock = clock
        self._monotonic = monotonic
        self._log = log.bind(channel=channel)
        self._limited = RateLimitedLog(self._log)

    def hear(self, beacon: Beacon, sent_at: float, interval: float) -> bool:
        """Take one beacon; return whether it is from the publisher gone by (now)."""
        now = self._monotonic()
        instance = beacon.publisher
        clock = self.clock(instance)
        self._learn_wall(instance, beacon.wall - sent_at)
        if instance != self.publisher:
            if self.publisher is not None and not self._silent(now):
                clock.observe(sent_at, now)  # its own clock: it moves nothing of ours
                self.conflicts += 1
                self._limited.warning(
                    "channel_conflict",
                    followed=self.publisher.hex(),
                    other=beacon.publisher.hex(),
                    other_live=beacon.live or None,
                )
                return False
            if self.publisher is not None:
                self._log.info("publisher_changed", previous=self.publisher.hex())
            # Its clock leads from now on: its own estimate (from its data, or from an
            # instance heard before on the same clock), which a beacon read from a
            # backlog cannot raise.
            self.publisher = instance
            if self.lead != instance:
                self.lead = instance
                self.resets += 1
        self.last_beacon, self.interval, self.announced = now, interval, beacon
        self.announced_at = sent_at
        if not self.on_air:
            self.on_air = True
            self._log.info(
                "publisher_on_air", publisher=beacon.publisher.hex(), live=beacon.live or None
            )
        clock.observe(sent_at, now)
        self.wall_base = beacon.wall - sent_at
        if beacon.signing_off:
            self.publisher = None  # it is leaving: whoever comes next is gone by at once
        return True

    def _learn_wall(self, instance: bytes, wall_base: float) -> None:
        """Note *instance*'s wall base; at its first, share the estimate of its clock.

        A wall minus monotonic clock is a property of a host (or kernel): two
        instances whose wall bases agree within `SAME_CLOCK_TOLERANCE_S` share
        one monotonic clock (a restart in place), so the new one starts from
        what the old one's frames showed: a first frame read late from a
        backlog cannot make old messages look young.
        """
        if instance not in self.walls:
            clock = self.clock(instance)
            source = self._hinted.pop(instance, None)
            if clock.inherited and not self._same_wall(source, wall_base):
                clock.reset()  # another host after all: its own clock, from its own frames
            for other, wall in self.walls.items():
                if abs(wall - wall_base) <= SAME_CLOCK_TOLERANCE_S and other in self.clocks:
                    clock.merge(self.clocks[other])
                    break
        self.walls[instance] = wall_base

    def _same_wall(self, instance: bytes | None, wall_base: float) -> bool:
        known = self.walls.get(instance) if instance is not None else None
        return known is not None and abs(known - wall_base) <= SAME_CLOCK_TOLERANCE_S

    def clock(self, instance: bytes) -> ClockOffset:
        """The clock offset estimate of publisher *instance* (a new one when not kept)."""
        clocks = self.clocks
        found = clocks.get(instance)
        if found is not None:
            clocks.move_to_end(instance)
            return found
        found = clocks[instance] = ClockOffset()
        lead = self.lead
        if lead is not None and lead != instance and lead in clocks:
            found.hint = clocks[lead]  # most likely a restart in place: see `ClockOffset.hint`
            self._hinted[instance] = lead
        if len(clocks) > MAX_CLOCKS:
            for old in clocks:
                if old != lead:
                    del clocks[old]
                    self.walls.pop(old, None)
                    self._hinted.pop(old, None)
                    break
        return found

    @property
    def offset(self) -> ClockOffset:
        """The lead's clock offset estimate (an empty one before any lead)."""
        lead = self.lead
        return _NO_ESTIMATE if lead is None else self.clock(lead)

    def value(self, instance: bytes) -> float | None:
        """*instance*'s clock offset estimate, if any (None: none yet)."""
        found = self.clocks.get(instance)
        return None if found is None else found.value

    def display_base(self, clock: ClockOffset) -> float:
        """What to add to a send time on *clock*'s instance to make `Message.sent_at`.

        The lead's `base`; for another instance, the send time turned into our
        monotonic clock by its own estimate, then into `sent_at` by `conversion`:
        every message is judged with the one `conversion`.
        """
        if clock is self.offset:
            return self.base or 0.0
        return self.conversion + (clock.value or 0.0)

    def _silent(self, now: float) -> bool:
        return self.last_beacon is None or (
            now - self.last_beacon > self.off_air_after * self.interval
        )

    def check(self) -> bool:
        """Declare the publisher off air after ``off_air_after`` intervals of silence.

        Call it only when no frame is waiting unread (a busy subscriber that has
        not read its beacons yet has not lost them). Returns `on_air`.
        """
        if self.on_air and self.last_beacon is not None:
            now = self._monotonic()
            if self._silent(now):
                self.on_air = False
                self._log.warning(
                    "publisher_off_air",
                    silent_s=round(now - self.last_beacon, 3),
                    missed_beacons=self.off_air_after,
                )
        return self.on_air

    @property
    def conversion(self) -> float:
        """What to add to our monotonic clock to read it as `Message.sent_at` is given.

        A message yielded is expired when ``monotonic() + conversion > sent_at +
        ttl``: that is `base` minus the offset.
        """
        return (self.base or 0.0) - (self.offset.value or 0.0)

    def skew(self) -> float:
        """Our wall clock minus the publisher's, as estimated from its beacons (0.0 before).

        The publisher's wall clock now is its monotonic clock now (ours minus
        the offset) plus its wall base from the latest beacon; the estimate errs by
        the one-way delay floor.
        """
        wall_base = self.wall_base
        if wall_base is None:
            return 0.0
        return self._clock() - self._monotonic() + (self.offset.value or 0.0) - wall_base

    def first_base(self, instance: bytes) -> float:
        """Set `base` when nothing set it yet, for a message of *instance* (with an estimate).

        *instance* leads unless one does. From the latest beacon when one was
        heard; else our wall clock minus the age of a message sent now, so that
        ``sent_at + base`` is our wall clock minus the message's estimated age.
        """
        if self.lead is None:
            self.lead = instance
        base = self.wall_base
        if base is None:
            base = self._clock() - self._monotonic() + (self.offset.value or 0.0)
        self.base = base
        return base

    def rebase(self, resets: int, offset_before: float | None) -> None:
        """A beacon of the publisher gone by was heard: take its wall base.

        Within one publisher instance the base changes only when it moved by more
        than `WALL_BASE_TOLERANCE_S`; messages yielded before move with it. After
        a change of lead (another instance, its own estimate), they move by the
        change of `conversion`, so that they are judged as before.
        """
        old, new = self.base, self.wall_base
        if new is None:
            return
        if self.resets != resets:
            self.base = new
            if old is not None and offset_before is not None:
                self._moved(new - (self.offset.value or 0.0) - (old - offset_before))
        elif old is None:
            self.base = new
        elif abs(new - old) > WALL_BASE_TOLERANCE_S:
            self.base = new
            self._moved(new - old)
        skew = self.skew()
        if not self._skew_logged and abs(skew) > CLOCK_SKEW_WARNING_S:
            self._skew_logged = True
            self._log.warning("clock_skew", skew_s=round(skew, 3))

    def _moved(self, shift: float) -> None:
        if shift and self.on_rebase is not None:
            self.on_rebase(shift)


WINDOW_S: Final[float] = 60.0
"""How long an observed minimum keeps the estimate down (by the subscriber's clock)."""

BUCKET_S: Final[float] = 5.0
"""The window is kept as the minima of buckets this long."""

INHERIT_S: Final[float] = WINDOW_S
"""A new instance's first sample at most this far above the lead's estimate (and not
below it) shares the lead's estimate until its first beacon says which host it is on."""

SUSPECT_DROP_S: Final[float] = 0.25
"""A sample this far below the estimate is implausible on its own (a forged or flipped
send time, stamped ahead): it moves the estimate only when the next sample agrees
with it within this much, and then by the less extreme of the two."""

_INF: Final[float] = float("inf")


def _in_doubt(sample: float, value: float) -> bool:
    """Whether *sample* is too far below the estimate *value* to be taken alone."""
    return sample < value - SUSPECT_DROP_S


class ClockOffset:
    """Estimates ``our clock - the publisher's clock`` from (send time, arrival time) pairs.

    The clocks are two hosts' monotonic clocks (one publisher instance's and
    ours): they never step, so the difference moves only by their drift (parts
    per million) and the estimate only by the delay floor.

    Each frame's arrival time minus its send time is the offset plus the frame's
    one-way delay; the smallest over `WINDOW_S` is the offset plus the delay
    floor. So the publisher's clock reads about ``now - value`` here, and a
    message's age on the publisher's clock is ``now - value - sent_at``, right to
    within the one-way delay whatever the two clocks say. The estimate goes down
    at once and up only when the minimum leaves the window: frames read late
    from a backlog (large delays) never make old messages look young. A single
    sample more than `SUSPECT_DROP_S` below it moves nothing: it waits for the
    next sample to agree (frames read after a backlog do; a forged time stamp
    does not). ``value`` is None until the first observation. A sample moves
    something only when it is below ``watch`` or arrives at or after ``due``
    (it opens a bucket): `wants` says so, and `observe` takes no other, so
    that every path of the tuner samples by this one rule.

    A new publisher instance's estimate has a ``hint``: the estimate of the
    instance that led before it. A restart in place keeps its host's monotonic
    clock, and its first frames may come late from a backlog: when its first
    sample is no lower than the hint and at most `INHERIT_S` above it, the
    estimate starts from the hint's (``inherited``), until the instance's first
    beacon shows its wall base (`Air`): another host's, and it starts over.
    """

    def __init__(self) -> None:
        self.value: float | None = None
        self.bucket_min = _INF  # the current bucket's minimum
        self.watch = _INF  # observe() a sample below this: the bucket's minimum, or all
        self.due = -_INF  # ... or one arriving from then on (ours): it opens a bucket
        self._suspect: float | None = None  # an implausible sample awaiting the next one
        self.hint: ClockOffset | None = None  # the lead's estimate, before the first sample
        self.inherited = False  # started from the hint's
        self._bucket_start = -_INF
        self._buckets: deque[tuple[float, float]] = deque()  # (start, minimum), oldest first

    def wants(self, sample: float, arrived: float) -> bool:
        """Whether a *sample* arriving at *arrived* (ours) may move anything.

        Below `watch` (a new low, a first sample, one in doubt to settle), or
        arriving at or after `due` (it closes the current bucket and opens one).
        Any other sample changes nothing: a path may skip it, and `observe` does.
        """
        return sample < self.watch or arrived >= self.due

    def doubts(self, sent_at: float, arrived: float) -> bool:
        """Whether a frame's send time is in doubt: stamped after it arrived.

        Its sample is more than `SUSPECT_DROP_S` below the estimate (forged, or a bit
        flipped). `observe` moves nothing on such a sample alone, and it proves nothing: a re-tune
        waiting for a frame sent after it does not take it for one (`Tuner`).
        """
        value = self.value
        return value is not None and _in_doubt(arrived - sent_at, value)

    def observe(self, sent_at: float, arrived: float) -> float:
        """Take one frame's send time (publisher's clock) and arrival (ours); return value."""
        sample = arrived - sent_at
        if not self.wants(sample, arrived):
            return sample if self.value is None else self.value
        hint = self.hint
        if hint is not None:
            self.hint = None
            low = hint.value
            if self.value is None and low is not None and low <= sample <= low + INHERIT_S:
                self.merge(hint)
                self.inherited = True
        value, suspect = self.value, self._suspect
        if value is not None and _in_doubt(sample, value):
            if suspect is None or abs(sample - suspect) > SUSPECT_DROP_S:
                self._suspect = sample  # alone, it moves nothing; the next sample decides
                self.watch = _INF
                return value
            sample = max(sample, suspect)  # two agree: the less extreme of them
        self._suspect = None
        self._take(sample, arrived)
        self.watch = self.bucket_min
        return sample if self.value is None else self.value

    def _take(self, sample: float, arrived: float) -> None:
        if arrived >= self.due:  # `_bucket_start` + `BUCKET_S`: `wants` reads the same number
            if self.bucket_min < _INF:
                self._buckets.append((self._bucket_start, self.bucket_min))
            self._bucket_start, self.bucket_min = arrived, _INF
            self.due = arrived + BUCKET_S
            while self._buckets and arrived - self._buckets[0][0] > WINDOW_S:
                self._buckets.popleft()
            self.value = min((low for _, low in self._buckets), default=None)
        if sample < self.bucket_min:
            self.bucket_min = sample
        if self.value is None or sample < self.value:
            self.value = sample

    def merge(self, other: ClockOffset) -> None:
        """Take *other*'s observations too: an estimate of the same clock (a restart in place)."""
        if other.value is None or other is self:
            return
        buckets = [*self._buckets, *other._buckets]
        if other.bucket_min < _INF:
            buckets.append((other._bucket_start, other.bucket_min))
        self._buckets = deque(sorted(buckets))
        if self.value is None or other.value < self.value:
            self.value = other.value
        if self._bucket_start == -_INF:  # nothing observed yet: the next sample opens a bucket
            self.bucket_min = _INF
            self.due = -_INF
        self.watch = _INF if self._suspect is not None else self.bucket_min

    def reset(self) -> None:
        """Forget every observation."""
        self.value = None
        self.bucket_min = self.watch = _INF
        self._suspect = None
        self.hint, self.inherited = None, False
        self._bucket_start = self.due = -_INF
        self._buckets.clear()


_NO_ESTIMATE: Final = ClockOffset()
"""The estimate before any publisher instance leads: never observed."""
