"""The subscriber's pure core: which sessions it hears, fencing, TTL, gaps and counters."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from typing import Final

from radio.core.air import Air
from radio.core.dial import Dial, Heard
from radio.core.ledger import Ledger
from radio.core.names import (
    channel_prefix,
    control_topic,
    inbox_topic,
    leading_topic,
)
from radio.core.runs import (
    Batch,
    Continuation,
    Cursor,
    Run,
    split_oversize,
    take_batch,
    take_run,
)
from radio.core.switchboard import Switchboard
from radio.core.wire import (
    HEADER,
    LEAD,
    MAX_BATCH_MESSAGES,
    TAIL,
    Kind,
    decode_records,
    is_parted,
    parts_size,
    span,
    unpack_header,
    unpack_parts,
)
from radio.errors import MalformedMessageError
from radio.logs import get_logger
from radio.message import Message, Stats

log = get_logger()

_HEADER_SIZE: Final[int] = HEADER.size
_SEQ_LIMIT: Final[int] = 2**64
_LEAD_SIZE: Final[int] = LEAD.size
_INF: Final[float] = float("inf")
OFF_AIR_AFTER_BEACONS: Final[int] = 3
"""Default number of beacon intervals without a beacon before the publisher is off air."""
HELLO_GRACE_S: Final[float] = 1.0
"""A re-tuned session whose HELLO was lost is heard again from the first message sent
this long after the re-tune (its send time turned into our monotonic clock by the
estimated offset), and not stamped after it arrived: a forged or flipped send time
ends no wait."""
_unpack_tail = TAIL.unpack_from
_new_tuple = tuple.__new__


class Tuner:
    """Decides, frame by frame, what a subscriber yields; no sockets, no threads.

    It is tuned in to explicit sessions and, when following, to the live session
    that the beacons of the publisher it goes by name (`air`). `topics` is what
    the socket must be subscribed to; `changed` says it moved since the socket was
    last synced. Every message of a heard session that was sent and is not
    yielded is counted once in `stats`, by reason. A two-part message (a
    `radio.core.wire.PARTED` head, then its payload) must come as two consecutive
    frames of one `take`; ``max_message_size`` (None: no limit) drops one whose
    topic, header and payload are larger, as the driver drops single frames.

    Ages are judged on monotonic clocks: a header's send time is the publisher's
    monotonic clock, and a message is expired when ``our monotonic clock - offset
    - sent_at > ttl``, with the offset between the two clocks estimated per
    publisher instance (`radio.core.air.ClockOffset`). A step of either wall clock
    changes no decision. ``Message.sent_at`` is wall time for the user: the send
    time plus `base`, the publisher's wall minus monotonic clock from its latest
    beacon (before any, our wall clock minus the message's estimated age). When
    the base changes (the first beacon, a publisher's wall-clock step, a new
    publisher instance), `Air.on_rebase` is called with what to add to the
    ``sent_at`` of messages yielded before, so that whoever holds them (the ready
    queue) keeps judging them right with `conversion`.
    """

    def __init__(
        self,
        channel: str,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        listener_id: bytes = b"",
        off_air_after: int = OFF_AIR_AFTER_BEACONS,
        max_message_size: int | None = None,
    ) -> None:
        self.channel = channel
        # A two-part message over it (topic, header and payload) is dropped as oversize;
        # the driver drops single frames over it before they come here.
        self.max_message_size = max_message_size
        self._prefix = channel_prefix(channel)
        # Our inbox: only we subscribe to it, so last values sent there reach us alone.
        self.inbox = inbox_topic(channel, listener_id) if listener_id else b""
        self.ledger = Ledger(channel, self._publisher_now, monotonic)
        self.stats = self.ledger.stats
        self.air = Air(channel, off_air_after, monotonic, clock)
        self.dial = Dial(channel, monotonic)
        self._monotonic = monotonic
        self._clock = clock
        self.run: Run = take_run
        """What takes the plain runs of frames: `take_run`, or its C twin (set by a driver)."""
        self.batch: Batch = take_batch
        """What takes a plain BATCH frame whole: `take_batch`, or its C twin."""
        self._prefix_len = len(self._prefix)
        self._went_on: tuple[Heard, bytes] | None = None  # see `continuation`
        self._continued_at = 0.0
        self.control_topic = control_topic(channel)
        self._log = log.bind(channel=channel)
        self._switchboard = Switchboard(
            channel, self._prefix, self.inbox, self.air, self.dial, self.ledger, self._careful,
            self._log,
        )  # fmt: skip

    def _publisher_now(self, instance: bytes) -> float:
        """*instance*'s monotonic clock now, as estimated (ours before any estimate)."""
        return self._monotonic() - (self.air.value(instance) or 0.0)

    # -- what to hear ----------------------------------------------------------------

    @property
    def sessions(self) -> frozenset[str]:
        """Every session whose messages are yielded now (explicit and followed)."""
        return self.dial.sessions

    @property
    def following(self) -> bool:
        """Whether the live session is followed."""
        return self.dial.following

    @property
    def live(self) -> str | None:
        """The live session followed now, or None."""
        return self.dial.live

    @property
    def changed(self) -> bool:
        """Whether the topics to subscribe to moved since `synced`."""
        return self.dial.changed

    def synced(self) -> None:
        """The socket's subscriptions match `topics` now."""
        self.dial.changed = False

    @property
    def on_air(self) -> bool:
        """Whether the publisher gone by is on air (see `Air`)."""
        return self.air.on_air

    def snapshot(self) -> Stats:
        """A copy of the counters, with the beacons' conflicts and the wall-clock skew."""
        return self.ledger.snapshot(self.air.conflicts, self.air.skew())

    def topics(self) -> frozenset[bytes]:
        """The topics the socket must be subscribed to: control and every heard session."""
        return self.dial.topics(self.control_topic)

    def subscriptions(self, listener_id: bytes) -> frozenset[bytes]:
        """Every subscription the socket must hold (see `Dial.subscriptions`)."""
        return self.dial.subscriptions(self.control_topic, self.inbox, listener_id)

    def tune_in(self, session: str) -> None:
        """Hear *session* (a valid name) from now on, until `tune_out` or its end."""
        self.dial.tune_in(session)

    def tune_out(self, session: str) -> None:
        """Stop hearing *session*; stop following too if it is the followed one."""
        self.dial.tune_out(session)

    def follow(self) -> None:
        """Hear whichever session the beacons name as live (from the last one)."""
        announced = self.air.announced
        self.dial.follow((announced.live or None) if announced is not None else None)

    def unfollow(self) -> None:
        """Stop following the live session (explicit sessions stay)."""
        self.dial.unfollow()

    # -- frames ------------------------------------------------------------------------

    def take(
        self, frames: list[bytes], out: Callable[[Message], object], largest: int = -1
    ) -> None:
        """Handle *frames* (whole messages, as read off the socket) in order: the hot path.

        Each message to yield goes to *out*. A frame over ``max_message_size``, or a
        two-part message over it (topic, header and payload), is dropped and counted
        as oversize in its turn: the size rule lives here alone. *largest*: the
        size of the largest of *frames*, when the reader knows it (-1: measured here).
        """
        if not frames:
            return
        limit = self.max_message_size
        if largest < 0:
            largest = max(map(len, frames))
        if limit is None or not frames or largest <= limit:
            self._take(frames, out)
            return
        for run, dropped in split_oversize(frames, limit):
            self._take(run, out)  # what came before it, in order
            if dropped is not None:
                self._oversize(self._lookup(dropped), dropped, limit)

    def take_on(self, frames: list[bytes], out: Callable[[Message], object]) -> None:
        """`take` as the C reader does it (``radio._hot.Socket.read_on``).

        The frames that go on from `continuation` first (none over
        ``max_message_size``), then the rest.
        """
        state = self.continuation() if frames else None
        if state is not None:
            limit = self.max_message_size
            stop = len(frames)
            if limit is not None:
                stop = next((i for i, frame in enumerate(frames) if len(frame) > limit), stop)
            index, last, last_sent, taken = self.run(frames[:stop], 0, *state, out)
            self.continued(last, last_sent, taken)
            frames = frames[index:]
        self.take(frames, out)

    def _oversize(self, heard: Heard | None, frame: bytes, limit: int) -> None:
        """Count *frame* (a two-part message's head) dropped for its size: see `Ledger.oversize`."""
        seq, count, sent_at = span(frame, len(heard.topic)) if heard is not None else (0, 1, 0.0)
        self.ledger.oversize(heard, seq, count, sent_at, limit)

    def _take(self, frames: list[bytes], out: Callable[[Message], object]) -> None:
        """Handle *frames* in order, passing each message to yield to *out*.

        A DATA frame that starts like the frame before, up to its seq (topic,
        version, kind and flags, publisher instance: its *lead*), costs one
        ``startswith``, one ``unpack_from`` and one addition (and a monotonic
        clock reading when it has a TTL); anything else (another session or
        instance, a BATCH, END, a beacon, a two-part message, junk, a re-tuned
        session awaiting the HELLO, no `base` yet) takes the careful path, which
        takes a two-part message's payload as the next frame. Once a lead is
        set, `run` (`take_run`, or its C twin) takes the frames that need nothing
        more, many at a time; the frame it stops at is handled here.
        """
        channel = self.channel
        clock = self._monotonic
        run = self.run
        received = taken = 0
        heard: Heard | None = None
        estimate = self.air.offset
        lead = b""
        session = ""
        offset = body = last = 0
        skew = watch = due = base = last_sent = age = 0.0
        now = self._monotonic()  # when the sessions of these frames were last heard of
        rest = Cursor(frames)
        count = len(frames)
        try:
            while rest.index < count:
                if heard is not None:
                    rest.index, last, last_sent, taken = run(
                        frames, rest.index, lead, channel, session, last, last_sent,
                        skew, watch, due, base, clock, out,
                    )  # fmt: skip
                    received += taken
                    if rest.index >= count:
                        break
                frame = frames[rest.index]
                rest.index += 1
                if heard is None or not frame.startswith(lead):
                    if heard is not None:
                        heard.last_seq, heard.last_sent, heard.heard_at = last, last_sent, now
                    heard = self._lookup(frame)
                    lead = b"" if heard is None else heard.lead(frame, self._ready(heard))
                    if heard is None or not lead:  # not a plain DATA frame of a heard instance
                        self._slow(heard, frame, rest, out)
                        heard = None  # END changes what is heard
                        continue
                    session, last, last_sent = heard.session, heard.last_seq, heard.last_sent
                    offset = len(lead)
                    body = offset - _LEAD_SIZE + _HEADER_SIZE
                    estimate = self.air.clock(heard.instance)
                    skew, watch, due = estimate.value or 0.0, estimate.watch, estimate.due
                    base = self.air.display_base(estimate)
                try:
                    seq, sent_at, ttl = _unpack_tail(frame, offset)
                except struct.error:
                    sent_at = -1.0  # too short: `_careful` says so
                if not 0.0 <= sent_at < _INF or not 0.0 <= ttl < _INF:
                    heard.last_seq, heard.last_sent, heard.heard_at = last, last_sent, now
                    self._slow(heard, frame, rest, out)
                    heard = None
                    continue
                if ttl or watch == _INF:  # a TTL to judge, or a sample in doubt to settle
                    arrived = clock()
                    age = arrived - sent_at  # both monotonic: offset + delay + true age
                    if estimate.wants(age, arrived):  # a new low, one in doubt, a new bucket
                        skew = estimate.observe(sent_at, arrived)
                        watch, due = estimate.watch, estimate.due
                        base = self.air.display_base(estimate)
                if seq != last + 1:
                    heard.last_seq, heard.last_sent = last, last_sent
                    if not self.ledger.jump(heard, seq, sent_at):
                        last_sent = heard.last_sent  # a frame behind bounds gaps from its time
                        continue  # not after the last one, or implausibly far: dropped
                last, last_sent = seq, sent_at
                if ttl and age - skew > ttl:
                    self.ledger.expired(session, seq, ttl)
                    continue
                received += 1
                out(
                    _new_tuple(
                        Message,
                        (channel, session, seq, sent_at + base, ttl or None, frame[body:]),
                    )
                )
        finally:
            if heard is not None:
                heard.last_seq, heard.last_sent, heard.heard_at = last, last_sent, now
            if heard is not None:  # else `_slow` said where the next frames may go on from
                self._went_on = (heard, lead)
            self.ledger.received(received)

    def continuation(self) -> Continuation | None:
        """Where the next frames may go on from: the plain run `take` left off at, if any.

        When the last frame `take` handled was a plain DATA frame of a heard
        session's instance, frames read next that carry on that run (each the next
        seq, needing nothing more: `take_run`'s rule) may be taken straight off the
        socket, before they are frames at all: this gives `take_run`'s arguments
        after *frames* and *index*, as `take` would set them for a frame starting
        with the lead (the session still heard as it was, its instance's clock
        estimated, nothing awaited). None: read, then `take`. Report what was taken
        with `continued`; then `take` the rest, as ever.
        """
        went_on = self._went_on
        if went_on is None:
            return None
        heard, lead = went_on
        if (
            self.dial.heard.get(heard.topic) is not heard
            or not self._ready(heard)
            or heard.lead(lead, True) != lead
            or not 0 <= heard.last_seq < _SEQ_LIMIT - 1  # no next seq: `take` decides
        ):
            self._went_on = None
            return None
        self._continued_at = self._monotonic()
        estimate = self.air.clock(heard.instance)
        return (
            lead, self.channel, heard.session, heard.last_seq, heard.last_sent,
            estimate.value or 0.0, estimate.watch, estimate.due,
            self.air.display_base(estimate), self._monotonic,
        )  # fmt: skip

    def continued(self, last: int, last_sent: float, taken: int) -> None:
        """Account for *taken* messages that went on from `continuation` (last: *last*)."""
        if taken and self._went_on is not None:
            heard = self._went_on[0]
            heard.last_seq, heard.last_sent, heard.heard_at = last, last_sent, self._continued_at
            self.ledger.received(taken)

    def _ready(self, heard: Heard) -> bool:
        """Whether *heard*'s plain DATA frames may take the fast path (see `Heard.lead`)."""
        return (
            not heard.awaiting and self.air.base is not None and heard.instance in self.air.clocks
        )

    def _lookup(self, frame: bytes) -> Heard | None:
        """The heard session whose topic *frame* starts with, if any."""
        return self.dial.heard.get(leading_topic(frame, self._prefix_len))

    def handle(self, frame: bytes) -> list[Message]:
        """Account for one frame off the socket; return the messages it yields (0 or more)."""
        messages: list[Message] = []
        self.take([frame], messages.append)
        return messages

    def _slow(
        self,
        heard: Heard | None,
        frame: bytes,
        rest: Iterator[bytes],
        out: Callable[[Message], object],
    ) -> None:
        """Handle *frame* (on *heard*'s topic, or off every heard one) the careful way.

        A two-part message takes its payload from *rest*; a frame that came after
        a head and is not that head's part is a frame of its own, handled next.
        """
        self._went_on = None  # unless a plain batch goes on (`_careful`)
        while True:
            if heard is not None:
                unclaimed = self._careful(heard, frame, rest, out)
            else:
                unclaimed = self._switchboard.handle(frame, rest, out)
            if unclaimed is None:
                return
            frame = unclaimed
            heard = self._lookup(frame)

    def _careful(
        self,
        heard: Heard,
        frame: bytes,
        rest: Iterator[bytes],
        out: Callable[[Message], object],
    ) -> bytes | None:
        """A frame on a heard topic that is not a plain, well-formed DATA frame.

        Returns the frame it took from *rest* and did not use (see `_slow`).
        """
        offset = len(heard.topic)
        part: bytes | None = None
        try:
            if is_parted(frame, offset):
                part = next(rest, None)
                live, instance, seq, sent_at, ttl, payload = unpack_parts(frame, offset, part)
                kind = Kind.DATA
                records = [(sent_at, payload)]
            else:
                kind, live, instance, seq, sent_at, ttl = unpack_header(frame, offset)
                if kind is Kind.BATCH and self._plain_batch(heard, live, instance, seq, ttl):
                    count, sent_at = self.batch(
                        frame, offset + _HEADER_SIZE, seq, self.channel, heard.session,
                        self.air.display_base(self.air.clock(instance)), out,
                    )  # fmt: skip
                    heard.last_seq, heard.last_sent = seq + count - 1, sent_at
                    heard.heard_at = self._monotonic()
                    self.ledger.received(count)
                    self._went_on = (heard, heard.lead_of(live))
                    return None
                records = (
                    decode_records(frame, offset + _HEADER_SIZE)
                    if kind is Kind.BATCH
                    else [(sent_at, frame[offset + _HEADER_SIZE :])]
                )
        except MalformedMessageError as exc:
            self.ledger.malformed(frame, exc)
            return part  # no part of this head: a frame of its own
        limit = self.max_message_size
        if part is not None and limit is not None and parts_size(frame, part) > limit:
            self._oversize(heard, frame, limit)
            return None
        if kind is Kind.BEACON or kind is Kind.HELLO:
            reason = f"{kind.name} frame on a session topic"
            self.ledger.malformed(frame, MalformedMessageError(reason))
            return None
        if kind is Kind.END:
            if self._switchboard.hears_end(heard, instance):
                self._switchboard.end(heard, seq, sent_at)
            return None
        if instance != heard.instance and not self.ledger.hears_from(heard, instance):
            self.ledger.fence_other(heard.session, seq, len(records))  # an instance moved on from
            return None
        if not live and not heard.explicit:
            # Sent after a newer session went live: a follower must not hear it, even
            # when the beacon that says so was dropped at a full queue.
            self.ledger.fence(heard, seq, len(records), sent_at)
            return None
        channel, session, now = self.channel, heard.session, self._monotonic()
        clock, estimate = self.air.clock(instance), 0.0
        received = 0
        for seq, (sent_at, payload) in enumerate(records, seq):  # noqa: B020 - seq counts on
            if ttl or heard.awaiting or self.air.base is None or clock.watch == _INF:
                estimate = clock.observe(sent_at, now)  # both monotonic: see `ClockOffset`
                if self.air.base is None:
                    self.air.first_base(instance)
            if heard.awaiting:
                if instance == heard.hello_from:
                    heard.awaiting = False  # its HELLO said it had sent nothing before
                elif (
                    sent_at + estimate <= heard.floor + HELLO_GRACE_S
                    or clock.doubts(sent_at, now)  # stamped after it arrived: proves nothing
                ):
                    self.ledger.fence(heard, seq, 1, sent_at)  # before the HELLO: before a re-tune
                    continue
                heard.awaiting = False  # no HELLO, but clearly sent after the re-tune
            if seq != heard.last_seq + 1 and not self.ledger.jump(heard, seq, sent_at):
                continue
            heard.last_seq, heard.last_sent = seq, sent_at
            if ttl and now - estimate > sent_at + ttl:
                self.ledger.expired(session, seq, ttl)
                continue
            received += 1
            base = self.air.display_base(clock)
            out(_new_tuple(Message, (channel, session, seq, sent_at + base, ttl or None, payload)))
        self.ledger.received(received)
        heard.heard_at = now
        return None

    def _plain_batch(self, heard: Heard, live: bool, instance: bytes, seq: int, ttl: float) -> bool:
        """Whether a BATCH frame with this header may go to `batch` whole.

        When it holds, the per-message loop of `_careful` would take every message
        of the batch as it comes (the next seq of the instance heard, no TTL, no
        clock sample, nothing awaited), so `take_batch` does just that.
        """
        return (
            not ttl
            and instance == heard.instance
            and (live or heard.explicit)
            and not heard.awaiting
            and seq == heard.last_seq + 1
            and seq + MAX_BATCH_MESSAGES < _SEQ_LIMIT
            and self.air.base is not None
            and self.air.clock(instance).watch != _INF
        )

    def check_air(self) -> bool:
        """See `Air.check`: call it only when nothing is waiting unread."""
        return self.air.check()
