"""The subscriber's pure core: which sessions it hears, fencing, TTL, gaps and counters."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

import structlog

from radio.errors import MalformedMessageError
from radio.message import Message, Stats
from radio.names import channel_prefix, control_topic, inbox_topic, leading_topic, session_topic
from radio.ratelimit import RateLimitedLog
from radio.wire import (
    HEADER,
    LIVE,
    VERSION,
    Kind,
    decode,
    decode_records,
    split_inbox,
    unpack_header,
)

log = structlog.get_logger("radio")

_VERSION: Final[int] = VERSION
_DATA: Final[int] = Kind.DATA
_DATA_LIVE: Final[int] = Kind.DATA | LIVE
_HEADER_SIZE: Final[int] = HEADER.size
_INF: Final[float] = float("inf")
MAX_REMEMBERED: Final[int] = 1024
"""Sessions tuned out of whose last yielded seq is remembered (against repeats)."""
MAX_GAP: Final[int] = 2**32
"""A larger jump in seq is a restart (or a forged frame), not that many lost messages."""
_unpack_from = HEADER.unpack_from
_new_tuple = tuple.__new__


@dataclass
class _Heard:
    session: str
    topic: bytes
    explicit: bool  # tuned in to by name: hears it live or not; else followed: live only
    last_seq: int = 0  # 0: nothing heard yet since tuning in


class Tuner:
    """Decides, frame by frame, what a subscriber yields; no sockets, no threads.

    It is tuned in to explicit sessions and, when following, to the live session
    that the publisher's beacons name. `topics` is what the socket must be
    subscribed to; `changed` says it moved since the socket was last synced.
    """

    def __init__(
        self,
        channel: str,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        listener_id: bytes = b"",
    ) -> None:
        self.channel = channel
        self._prefix = channel_prefix(channel)
        # Our inbox: only we subscribe to it, so last values sent there reach us alone.
        self.inbox = inbox_topic(channel, listener_id) if listener_id else b""
        self._yielded: dict[str, int] = {}  # session -> last seq yielded, after a tune-out
        self.stats = Stats()
        self.following = False
        self.live: str | None = None
        self.changed = True
        self.on_air = False
        self.announced: str | None = None  # the live session the last beacon named
        self.last_beacon: float | None = None  # by *monotonic*
        self.beacon_interval = 0.0
        self._clock = clock
        self._monotonic = monotonic
        self._prefix_len = len(channel_prefix(channel))
        self.control_topic = control_topic(channel)
        self._explicit: set[str] = set()
        self._heard: dict[bytes, _Heard] = {}
        self._log = log.bind(channel=channel)
        self._limited = RateLimitedLog(self._log)

    # -- what to hear ----------------------------------------------------------------

    @property
    def sessions(self) -> frozenset[str]:
        """Every session whose messages are yielded now (explicit and followed)."""
        return frozenset(heard.session for heard in self._heard.values())

    def topics(self) -> frozenset[bytes]:
        """The topics the socket must be subscribed to: control and every heard session."""
        return frozenset(self._heard) | {self.control_topic}

    def tune_in(self, session: str) -> None:
        """Hear *session* (a valid name) until `tune_out` or its end."""
        self._explicit.add(session)
        self._rebuild()

    def tune_out(self, session: str) -> None:
        """Stop hearing *session*; stop following too if it is the followed one."""
        self._explicit.discard(session)
        if self.following and self.live == session:
            self.following = False
            self.live = None
        self._rebuild()

    def follow(self) -> None:
        """Hear whichever session the publisher's beacons name as live (from the last one)."""
        if not self.following:
            self.following = True
            self.live = self.announced
        self._rebuild()

    def unfollow(self) -> None:
        """Stop following the live session (explicit sessions stay)."""
        self.following = False
        self.live = None
        self._rebuild()

    def _rebuild(self) -> None:
        wanted = set(self._explicit)
        if self.following and self.live:
            wanted.add(self.live)
        old = {heard.session: heard for heard in self._heard.values()}
        heard = {}
        for session in wanted:
            entry = old.get(session) or _Heard(
                session, session_topic(self.channel, session), explicit=False
            )
            entry.explicit = session in self._explicit
            heard[entry.topic] = entry
        for entry in self._heard.values():
            if entry.topic not in heard and entry.last_seq:
                self._yielded[entry.session] = entry.last_seq  # a later last value is old
                while len(self._yielded) > MAX_REMEMBERED:
                    del self._yielded[next(iter(self._yielded))]
        if heard.keys() != self._heard.keys():
            self.changed = True
        self._heard = heard

    # -- frames ------------------------------------------------------------------------

    def take(self, frames: Iterable[bytes], out: Callable[[Message], object]) -> None:
        """Handle *frames* in order, passing each message to yield to *out*: the hot path.

        A DATA frame of the same session as the frame before costs one
        ``startswith`` and one ``unpack_from``; anything else (another session, a
        BATCH, END, a beacon, junk) takes the careful path.
        """
        channel = self.channel
        clock = self._clock
        received = 0
        heard: _Heard | None = None
        topic = b""
        session = ""
        offset = body = last = plain = 0
        try:
            for frame in frames:
                if heard is None or not frame.startswith(topic):
                    if heard is not None:
                        heard.last_seq = last
                    heard = self._lookup(frame)
                    if heard is None:
                        self._handle_other(frame, out)
                        continue
                    topic, session, last = heard.topic, heard.session, heard.last_seq
                    offset = len(topic)
                    body = offset + _HEADER_SIZE
                    plain = _DATA_LIVE if not heard.explicit else _DATA
                try:
                    version, kind, seq, sent_at, ttl = _unpack_from(frame, offset)
                except struct.error:
                    version = kind = 0  # too short: `_careful` says so
                if (
                    version != _VERSION
                    or (kind != _DATA_LIVE and kind != plain)
                    or not 0.0 <= sent_at < _INF
                    or not 0.0 <= ttl < _INF
                ):
                    heard.last_seq = last
                    self._careful(heard, frame, out)  # END, BATCH or malformed
                    heard = None  # END changes what is heard
                    continue
                if ttl and clock() > sent_at + ttl:
                    self._expired(session, seq, ttl)
                    continue
                if last and seq != last + 1:
                    heard.last_seq = last
                    self._sequence_jump(heard, seq)
                last = seq
                received += 1
                out(
                    _new_tuple(Message, (channel, session, seq, sent_at, ttl or None, frame[body:]))
                )
        finally:
            if heard is not None:
                heard.last_seq = last
            self.stats.received += received

    def _lookup(self, frame: bytes) -> _Heard | None:
        """The heard session whose topic *frame* starts with, if any."""
        return self._heard.get(leading_topic(frame, self._prefix_len))

    def handle(self, frame: bytes) -> list[Message]:
        """Account for one frame off the socket; return the messages it yields (0 or more)."""
        messages: list[Message] = []
        self.take((frame,), messages.append)
        return messages

    def _careful(self, heard: _Heard, frame: bytes, out: Callable[[Message], object]) -> None:
        """A frame on a heard topic that is not a plain, well-formed DATA frame."""
        offset = len(heard.topic)
        try:
            kind, live, seq, sent_at, ttl = unpack_header(frame, offset)
            records = (
                decode_records(frame, offset + _HEADER_SIZE)
                if kind is Kind.BATCH
                else [(sent_at, frame[offset + _HEADER_SIZE :])]
            )
        except MalformedMessageError as exc:
            self._malformed(frame, exc)
            return
        if kind is Kind.END:
            self._end(heard, seq)
            return
        if kind is Kind.BEACON:
            self._malformed(frame, MalformedMessageError("BEACON frame on a session topic"))
            return
        if not live and not heard.explicit:
            # Sent after a newer session went live: a follower must not hear it, even
            # when the beacon that says so was dropped at a full queue.
            self.stats.fenced += len(records)
            self._limited.warning("message_fenced", session=heard.session, seq=seq)
            return
        channel, session, now = self.channel, heard.session, self._clock()
        last = heard.last_seq
        received = 0
        for seq, (sent_at, payload) in enumerate(records, seq):  # noqa: B020 - seq counts on
            if ttl and now > sent_at + ttl:
                self._expired(session, seq, ttl)
                continue
            if last and seq != last + 1:
                heard.last_seq = last
                self._sequence_jump(heard, seq)
            last = seq
            received += 1
            out(_new_tuple(Message, (channel, session, seq, sent_at, ttl or None, payload)))
        heard.last_seq = last
        self.stats.received += received

    def _handle_other(self, frame: bytes, out: Callable[[Message], object]) -> None:
        """A frame off every heard session's topic: a beacon, a last value, fenced, junk."""
        if self.inbox and frame.startswith(self.inbox):
            self._last_value(frame, out)
            return
        try:
            decoded = decode(frame)
        except MalformedMessageError as exc:
            self._malformed(frame, exc)
            return
        if decoded.kind is Kind.BEACON and decoded.channel == self.channel:
            self.last_beacon = self._monotonic()
            self.beacon_interval = decoded.ttl
            self.announced = decoded.session or None
            if not self.on_air:
                self.on_air = True
                self._log.info("publisher_on_air", live=decoded.session or None)
            live = decoded.session or None
            if self.following and live != self.live:
                self._log.info("session_followed", session=live, previous=self.live)
                self.live = live
                self._rebuild()
        elif decoded.kind in (Kind.DATA, Kind.BATCH):
            # Queued or prefetched before a tune-out, or from another session: never yielded.
            self.stats.fenced += 1
            self._limited.warning("message_fenced", session=decoded.session, seq=decoded.seq)

    def check_air(self, missed_beacons: int) -> bool:
        """Declare the publisher off air after *missed_beacons* beacon intervals of silence.

        Call it only when no frame is waiting unread (a busy subscriber that has
        not read its beacons yet has not lost them). Returns `on_air`.
        """
        if self.on_air and self.last_beacon is not None:
            silent = self._monotonic() - self.last_beacon
            if silent > missed_beacons * self.beacon_interval:
                self.on_air = False
                self._log.warning(
                    "publisher_off_air", silent_s=round(silent, 3), missed_beacons=missed_beacons
                )
        return self.on_air

    def _last_value(self, frame: bytes, out: Callable[[Message], object]) -> None:
        """A session's latest message, sent to our inbox alone when we tuned in.

        Layout: the inbox topic, the session's name and ``/``, then an ordinary
        DATA header and payload. It is ignored when the session is not heard, or
        anything of it was heard already (now or before a re-tune): never twice.
        """
        try:
            session, body = split_inbox(frame, self.inbox)
        except MalformedMessageError as exc:
            self._malformed(frame, exc)
            return
        heard = self._heard.get(self._prefix + session)
        if heard is None:
            self.stats.fenced += 1  # a session tuned out of meanwhile
            return
        rest = heard.topic + body  # the ordinary DATA frame it carries
        try:
            seq = unpack_header(rest, len(heard.topic))[2]
        except MalformedMessageError as exc:
            self._malformed(frame, exc)
            return
        if heard.last_seq or seq <= self._yielded.get(heard.session, 0):
            return
        self._careful(heard, rest, out)

    def retract(self, message: Message, reason: str) -> None:
        """Count a message taken earlier as dropped after all: "expired" or "fenced"."""
        self.stats.received -= 1
        if reason == "expired":
            self.stats.expired += 1
            self._limited.warning("message_expired", session=message.session, seq=message.seq)
        else:
            self.stats.fenced += 1
            self._limited.warning("message_fenced", session=message.session, seq=message.seq)

    def _expired(self, session: str, seq: int, ttl: float) -> None:
        self.stats.expired += 1
        self._limited.warning("message_expired", session=session, seq=seq, ttl=ttl)

    def _sequence_jump(self, heard: _Heard, seq: int) -> None:
        last = heard.last_seq
        if last < seq <= last + MAX_GAP:
            self.stats.gaps += seq - last - 1
            self._limited.warning(
                "messages_lost", session=heard.session, missing=seq - last - 1, after_seq=last
            )
        else:
            self._limited.warning(
                "sequence_restarted", session=heard.session, seq=seq, last_seq=last
            )

    def _end(self, heard: _Heard, last_seq: int) -> None:
        if heard.last_seq and last_seq > heard.last_seq:
            self.stats.gaps += last_seq - heard.last_seq
        self._explicit.discard(heard.session)
        if self.live == heard.session:
            self.live = None
        self._rebuild()
        self._log.info("session_ended", session=heard.session, last_seq=last_seq)

    def _malformed(self, frame: bytes, exc: MalformedMessageError) -> None:
        self.stats.malformed += 1
        self._limited.warning("message_malformed", reason=str(exc), size=len(frame))
