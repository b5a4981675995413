"""Which sessions a subscriber hears: the ones tuned in to by name and the followed live one."""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from radio.core.names import TAG_SEPARATOR, marker_topic, session_topic
from radio.core.wire import LIVE, VERSION, Kind

MAX_REMEMBERED: Final[int] = 1024
"""Sessions remembered: tuned out of (their last seq heard), and ended (who ended them)."""

MAX_RETIRED: Final[int] = 4
"""Publisher instances a session remembers having moved on from (a restart each), or ending it."""

_LIVE_LEAD: Final[bytes] = bytes((VERSION, Kind.DATA | LIVE))
_PLAIN_LEAD: Final[bytes] = bytes((VERSION, Kind.DATA))

NO_BASELINE: Final[int] = -1
"""``last_seq`` of a session tuned in to that nothing was heard of yet: its first
message sets the baseline (what was sent before we tuned in is not our loss)."""


@dataclass
class Heard:
    """One session heard now, and how far it was heard."""

    session: str
    topic: bytes
    explicit: bool  # tuned in to by name: hears it live or not; else followed: live only
    last_seq: int = NO_BASELINE  # 0: count from the session's first message
    awaiting: bool = False  # re-tuned: fenced until the publisher's HELLO (or after floor)
    hello_from: bytes = b""  # awaiting: an instance whose HELLO said 0: its frames are after
    floor: float = 0.0  # when it was re-tuned (our monotonic clock)
    tag: bytes = b""  # names this tune-in in the presence marker; the HELLO echoes it
    # Publisher-clock send time of the latest frame heard at or before last_seq (taken,
    # fenced or dropped as behind; -1: unknown): a later gap is bounded from it.
    last_sent: float = -1.0
    heard_at: float = 0.0  # our monotonic clock when last heard of: bounds a gap too
    since: float = 0.0  # our monotonic clock when tuned in: nothing heard was sent before
    instance: bytes = b""  # the publisher instance its seqs are of (b"": none heard yet)
    retired: tuple[bytes, ...] = ()  # instances it was heard from before: their frames are stale

    def lead(self, frame: bytes, ready: bool) -> bytes:
        """The lead of *frame* when the tuner's fast path may take it and those after it.

        Its topic, then the version, the DATA kind (with the `LIVE` flag, which
        only a session heard by name may lack) and the instance heard; b"" when
        not *ready* (the careful path sets what the fast path needs) or another.
        """
        if not ready:
            return b""
        lead = self.lead_of(True)
        if frame.startswith(lead):
            return lead
        lead = self.lead_of(False)
        return lead if self.explicit and frame.startswith(lead) else b""

    def lead_of(self, live: bool) -> bytes:
        """The lead of this session's DATA frames from the instance heard (`lead`'s)."""
        return self.topic + (_LIVE_LEAD if live else _PLAIN_LEAD) + self.instance

    def last_for(self, instance: bytes) -> int:
        """The last seq that *instance*'s frames count from.

        `last_seq`; but while no instance is heard, a HELLO of *instance* that
        said 0 (`hello_from`) is a baseline of 0 for its frames alone: another
        instance's HELLO or first message sets that one's.
        """
        if not self.instance and instance == self.hello_from:
            return max(self.last_seq, 0)
        return self.last_seq

    def succeed(self, instance: bytes, now: float) -> bytes:
        """Hear *instance*'s seqs from now on; return the instance heard before (b"": none).

        The one before is retired. When the session had a baseline, we were
        listening as the new one began: it counts from its first message; else
        its first sets the baseline. A re-tuned session awaits the new one's
        HELLO too.
        """
        old = self.instance
        if old:
            self.retired = (*self.retired[-(MAX_RETIRED - 1) :], old)
            self.last_seq = 0 if self.last_seq >= 0 else NO_BASELINE
            self.last_sent, self.heard_at = -1.0, now
            self.awaiting = self.floor > 0.0
            self.hello_from = b""
        self.instance = instance
        return old


class Dial:
    """The set of heard sessions, kept as `heard` (topic to `Heard`); pure.

    A session heard again after a tune-out awaits the publisher's HELLO, with
    the time of the re-tune (our *monotonic* clock) as a floor: the tuner
    compares it with a message's send time turned into our clock by the
    estimated offset, which holds across a change of publisher instance.
    """

    def __init__(
        self,
        channel: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self.heard: dict[bytes, Heard] = {}
        self.following = False
        self.live: str | None = None
        # A followed session ended while following: the next live one counts from its start
        # (its head was sent while we listened), even though nothing is followed meanwhile.
        self.between_sessions = False
        self.changed = True  # the heard topics moved since the socket was last synced
        # Sessions tuned out of: the last seq heard and the instance it is of (b"": none),
        # an OrderedDict: oldest dropped first.
        self.left: OrderedDict[str, tuple[int, bytes]] = OrderedDict()
        # ... and, of those that did not end, how far and from which instance they were heard:
        # a follower moved back to one counts on from there (`_new`), never from 0 again.
        self.away: OrderedDict[str, Heard] = OrderedDict()
        # Sessions that ended while heard: the instances that ended them (a name reopened by
        # a restarted publisher may end again), each with its last seq, the latest
        # `MAX_RETIRED`. A publisher instance never reopens a name it closed, so when one is
        # heard again, their frames of it are stale (`_new`), unless a HELLO refutes an END.
        self.ended: OrderedDict[str, tuple[tuple[bytes, int], ...]] = OrderedDict()
        self._explicit: set[str] = set()
        self._monotonic = monotonic
        self._tags = itertools.count(1)

    @property
    def sessions(self) -> frozenset[str]:
        """Every session heard now (explicit and followed)."""
        return frozenset(heard.session for heard in self.heard.values())

    def topics(self, control: bytes) -> frozenset[bytes]:
        """The topics to subscribe to: *control* (the channel's) and every heard session."""
        return frozenset(self.heard) | {control}

    def subscriptions(self, control: bytes, inbox: bytes, listener_id: bytes) -> frozenset[bytes]:
        """Every subscription the socket must hold.

        The topics; each one's presence marker (``ID.tag`` for a session: the tag
        names this tune-in, and the publisher's HELLO echoes it); and the *inbox*.
        """
        markers = {marker_topic(control, listener_id)}
        for heard in self.heard.values():
            markers.add(marker_topic(heard.topic, listener_id + TAG_SEPARATOR + heard.tag))
        return self.topics(control) | markers | ({inbox} if inbox else set())

    def tune_in(self, session: str) -> None:
        """Hear *session* until `tune_out` or its end."""
        self._explicit.add(session)
        self._rebuild()

    def tune_out(self, session: str) -> None:
        """Stop hearing *session*; stop following too if it is the followed one."""
        self._explicit.discard(session)
        if self.following and self.live == session:
            self.following = False
            self.live = None
        self._rebuild()

    def follow(self, live: str | None) -> None:
        """Hear the live session (*live*, as last announced) and each one after it."""
        if not self.following:
            self.following = True
            self.live = live
            self.between_sessions = False
        self._rebuild()

    def unfollow(self) -> None:
        """Stop following (explicit sessions stay)."""
        self.following = False
        self.live = None
        self.between_sessions = False
        self._rebuild()

    def move_to(self, live: str | None, *, from_start: bool) -> Heard | None:
        """Follow *live* now; count it from its first message if *from_start*.

        A move to no session keeps counting the next one from its start (a beacon
        of a restarted publisher whose first session already closed).
        """
        self.live = live
        self.between_sessions = live is None and from_start
        self._rebuild(from_start=live if from_start else None)
        return self.heard.get(session_topic(self.channel, live)) if live else None

    def end(self, session: str, instance: bytes = b"", last_seq: int = 0) -> None:
        """*session* is over (ended by *instance* at *last_seq*): hear it no more.

        Neither by name nor by following; *instance* (when known) is remembered as
        one that ended it: heard again, the session is another one's (`_new`).
        """
        self._explicit.discard(session)
        if self.live == session:
            self.live = None
            self.between_sessions = self.following
        self._rebuild()
        self.away.pop(session, None)  # over: a session of that name again is another one
        if instance:
            others = [over for over in self.ended.get(session, ()) if over[0] != instance]
            self.ended[session] = (*others[-(MAX_RETIRED - 1) :], (instance, last_seq))
            self.ended.move_to_end(session)
            while len(self.ended) > MAX_REMEMBERED:
                self.ended.popitem(last=False)

    def ended_by(self, heard: Heard, instance: bytes) -> bool:
        """Whether *instance* ended *heard*'s session, and no other was heard of it since.

        Such an instance's END (or beacon naming the session ended), read again after
        a re-tune, ends it again.
        """
        enders = self.ended.get(heard.session, ())
        return not heard.instance and any(over[0] == instance for over in enders)

    def refuted(self, heard: Heard, instance: bytes, seq: int) -> None:
        """Hear *instance* on *heard*'s session again if its HELLO (saying *seq*) refutes its END.

        An instance remembered as having ended the session says, when asked, the seq
        it ended at (while it remembers the name); a HELLO of it saying another seq
        shows the END was not its own (forged): its frames are heard again.
        """
        enders = self.ended.get(heard.session, ())
        if any(over[0] == instance and seq != over[1] for over in enders):
            kept = tuple(over for over in enders if over[0] != instance)
            if kept:
                self.ended[heard.session] = kept
            else:
                del self.ended[heard.session]
            heard.retired = tuple(other for other in heard.retired if other != instance)

    def _rebuild(self, *, from_start: str | None = None) -> None:
        """Hear exactly the explicit sessions and the followed one.

        A session newly heard counts from its baseline (its first message heard),
        or from its start when it is *from_start* (a follower moved to it; one it
        heard before, from the last seq heard: see `_new`). One heard before and
        tuned out of meanwhile awaits the publisher's HELLO: what comes before it
        was sent before this re-tune, and is stale.
        """
        wanted = set(self._explicit)
        if self.following and self.live:
            wanted.add(self.live)
        old = {heard.session: heard for heard in self.heard.values()}
        heard = {}
        for session in wanted:
            entry = old.get(session) or self._new(session, from_start=session == from_start)
            entry.explicit = session in self._explicit
            heard[entry.topic] = entry
        for entry in self.heard.values():
            if entry.topic not in heard:
                self._remember(entry)
        if heard.keys() != self.heard.keys():
            self.changed = True
        self.heard = heard

    def _remember(self, entry: Heard) -> None:
        """*entry* is tuned out of: keep its last seq (and how it was heard), oldest dropped."""
        self.left[entry.session] = (max(entry.last_seq, 0), entry.instance)
        self.away[entry.session] = entry
        self.left.move_to_end(entry.session)
        self.away.move_to_end(entry.session)
        for remembered in (self.left, self.away):
            while len(remembered) > MAX_REMEMBERED:
                remembered.popitem(last=False)

    def _new(self, session: str, *, from_start: bool) -> Heard:
        """A new entry for *session*, heard from now on.

        *from_start* (a follower moved to it) counts from seq 0, or, for a session
        heard before with a baseline and not ended since (the publisher switched
        back to it), from the last seq heard of that instance: each message once.
        """
        tag = str(next(self._tags)).encode("ascii")
        entry = Heard(session, session_topic(self.channel, session), explicit=False, tag=tag)
        entry.heard_at = entry.since = self._monotonic()
        before = self.away.pop(session, None)
        if from_start and before is not None and before.last_seq >= 0 and before.instance:
            entry.last_seq, entry.last_sent = before.last_seq, before.last_sent
            entry.instance, entry.retired = before.instance, before.retired
        elif from_start:
            entry.last_seq = 0
        if session in self.left:
            entry.awaiting, entry.floor = True, entry.heard_at
        for ender, _ in self.ended.get(session, ()):  # their frames: stale
            if ender not in entry.retired:
                entry.retired = (*entry.retired[-(MAX_RETIRED - 1) :], ender)
        return entry
