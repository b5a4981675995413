"""The publisher's pure core: sessions, live flag, END, beacons, batches, last value, presence."""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Final

import structlog

from radio.batch import BATCH_DELAY_S, Batch
from radio.errors import (
    MessageTooLargeError,
    SessionClosedError,
    SessionError,
    UnknownSessionError,
)
from radio.names import channel_prefix, control_topic, inbox_topic, session_topic, topic_session
from radio.presence import ListenerEvent, Presence
from radio.ratelimit import RateLimitedLog
from radio.wire import (
    HEADER,
    MAX_BATCH_MESSAGES,
    MAX_ENDED_IN_BEACON,
    PUBLISHER_ID_BYTES,
    RECORD,
    Beacon,
    Kind,
    encode,
    encode_beacon,
    encode_inbox,
    frame_prefix,
    kind_byte,
    pack_tail,
)

log = structlog.get_logger("radio")

BEACON_INTERVAL_S: Final[float] = 1.0
"""Default time between two beacons on the channel's control topic."""

END_REPEATS: Final[int] = 3
"""How many beacons after a session closes repeat its END frame: a full queue may
drop the first one, and a subscriber must still learn that the session is over."""

ENDED_RETENTION_S: Final[float] = 120.0
"""How long beacons keep naming a closed session with its last seq (at most the
`radio.wire.MAX_ENDED_IN_BEACON` newest): a subscriber cut off for up to this long
still learns that its session ended, and how many messages it missed."""

MAX_PENDING_EVENTS: Final[int] = 10_000
"""Listener events kept for ``on_listener`` while it catches up (the oldest go first)."""

MAX_REMEMBERED_ENDED: Final[int] = 65_536
"""Closed session names kept so that they cannot reopen (the oldest are forgotten first)."""

MAX_RECENT_RANDOM_ENDED: Final[int] = 1024
"""Closed random IDs (`open_session()` without a name, desk sessions) kept, newest only:
enough to name a late send's error, while a publisher that opens and closes sessions
for ever stays flat (nobody can bring an unguessable ID back by chance)."""

MAX_FRAME_BYTES: Final[int] = 16 * 1024 * 1024
"""Largest frame a batch grows to, whatever the publisher's own limit."""


class SessionState:
    """One open session: its topic, frame prefix, last seq, batch and last value.

    `frame` is the publisher's hot path: it numbers one message and returns the
    frame to send now (None while a batch is filling).
    """

    __slots__ = (
        "batch",
        "channel",
        "keep_last",
        "last",
        "max_frame",
        "max_payload",
        "plain",
        "prefix",
        "private",
        "remembered",
        "seq",
        "topic",
    )

    def __init__(
        self,
        channel: str,
        topic: bytes,
        *,
        max_frame: int,
        batch: Batch | None = None,
        keep_last: bool = False,
        private: bool = False,
        remembered: bool = True,
    ) -> None:
        self.channel = channel
        self.topic = topic
        self.private = private  # a desk client's own session: never the channel's live one
        self.remembered = remembered  # its name may come back: refuse to reopen it once closed
        self.prefix = frame_prefix(topic, Kind.DATA)  # not live (yet)
        self.seq = 0
        self.batch = batch
        self.keep_last = keep_last
        self.plain = batch is None and not keep_last  # a frame per message, nothing kept
        # The latest message (keep_last): seq, sent_at, ttl, payload, kind byte.
        self.last: tuple[int, float, float, bytes, int] | None = None
        self.max_frame = max_frame
        self.max_payload = max_frame - len(topic) - HEADER.size
        if batch is not None:
            self.max_payload -= RECORD.size  # a batched message also carries its record header

    def frame(self, payload: bytes, ttl: float, now: float) -> bytes | None:
        """Number *payload* (sent at *now*); return the frame to send now, if any.

        Raises `MessageTooLargeError` (numbering nothing) when it cannot fit a frame.
        """
        if len(payload) > self.max_payload:
            raise MessageTooLargeError(
                f"message of {len(payload)} bytes is over the {self.max_frame}-byte "
                f"limit on channel {self.channel!r}"
            )
        seq = self.seq = self.seq + 1
        if self.keep_last:
            self.last = (seq, now, ttl, payload, kind_byte(self.prefix))  # LIVE flag as now
        if self.batch is None:
            return self.prefix + pack_tail(seq, now, ttl) + payload
        return self.batch.add(seq, now, ttl, payload)

    def label(self, live: bool) -> None:
        """Set the LIVE flag of the frames from now on (flush the batch first)."""
        self.prefix = frame_prefix(self.topic, Kind.DATA, live=live)
        if self.batch is not None:
            self.batch.set_live(live)

    def flush(self) -> bytes | None:
        """The batch's waiting messages as one frame (None: nothing waiting, or unbatched)."""
        return None if self.batch is None else self.batch.flush()


class Transmitter:
    """Decides every frame a publisher sends; no socket, no thread, clock injected.

    It owns the open sessions (`sessions`, oldest first) and which one is `live`,
    END frames and their repeats, the beacon schedule, the batching policy, the
    last-value store and presence, fed by XPUB subscription events. Each call
    returns the frames to send, in order; the driver sends them without blocking.
    """

    def __init__(
        self,
        channel: str,
        *,
        max_frame: int = MAX_FRAME_BYTES,
        batch_size: int = 1,
        batch_delay: float = BATCH_DELAY_S,
        beacon_interval: float = BEACON_INTERVAL_S,
        keep_last: bool = False,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        publisher_id: bytes | None = None,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_MESSAGES:
            raise ValueError(f"batch size {batch_size} is not 1 to {MAX_BATCH_MESSAGES}")
        self.channel = channel
        self.publisher_id = publisher_id or secrets.token_bytes(PUBLISHER_ID_BYTES)
        self.sessions: dict[str, SessionState] = {}
        self.live: str | None = None
        self.presence = Presence(monotonic)
        self.events: deque[ListenerEvent] = deque(maxlen=MAX_PENDING_EVENTS)
        self.presence_changed = False
        self.beacon_interval = beacon_interval
        self.batch_size = batch_size
        self.batch_delay = batch_delay
        self.keep_last = keep_last
        self._max_frame = max_frame
        self._clock = clock
        self._prefix = channel_prefix(channel)
        self.control = control_topic(channel)
        self._ended: dict[str, None] = {}  # closed names that may not reopen, oldest first
        self._ended_random: dict[str, None] = {}  # the newest closed random IDs
        self._public: dict[str, None] = {}  # open sessions that may be live, oldest first
        self._ends_to_repeat: dict[bytes, list[int]] = {}  # topic -> [last seq, repeats left]
        self._previous: tuple[str, int] | None = None  # live before the live one, its seq then
        # The newest closed sessions: name, last seq, when (by the clock), for beacons.
        self._recently_ended: deque[tuple[str, int, float]] = deque(maxlen=MAX_ENDED_IN_BEACON)
        self._beacon_seq = 0
        self._next_beacon = 0.0  # the first tick sends one
        self._log = log.bind(channel=channel)
        self._limited = RateLimitedLog(self._log)

    # -- sessions ------------------------------------------------------------------

    def session(self, session: str) -> SessionState:
        """The open *session*; raises `SessionClosedError` or `UnknownSessionError`."""
        state = self.sessions.get(session)
        if state is not None:
            return state
        if self._was_closed(session):
            raise SessionClosedError(f"session {session!r} is closed")
        raise UnknownSessionError(f"no open session {session!r} on channel {self.channel!r}")

    def open(self, session: str, *, private: bool = False, remembered: bool = True) -> list[bytes]:
        """Open *session* (a valid name); unless *private* (a desk client's), make it live.

        Returns the beacon that names it, after the batches sent under the old one.
        A session that is not *remembered* (a random ID, which cannot come back) is
        forgotten once closed. Costs O(1), however many sessions are open.
        """
        if self._was_closed(session):
            raise SessionClosedError(f"session {session!r} was closed and cannot reopen")
        if session in self.sessions:
            raise SessionError(f"session {session!r} is already open")
        topic = session_topic(self.channel, session)
        batch = None
        if self.batch_size > 1:
            limit = min(self._max_frame, MAX_FRAME_BYTES)
            batch = Batch(topic, self.batch_size, limit, self.batch_delay)
        self.sessions[session] = SessionState(
            self.channel,
            topic,
            max_frame=self._max_frame,
            batch=batch,
            keep_last=self.keep_last,
            private=private,
            remembered=remembered and not private,
        )
        frames: list[bytes] = []
        if not private:
            self._public[session] = None
            frames = self._beacon(self._clock())  # names it live, after the old one's batches
        self._log.info("session_opened", session=session)
        return frames

    def close(self, session: str) -> list[bytes]:
        """Close *session*: its last batch, its END, and a beacon if the live one changed."""
        state = self.session(session)
        frames = self._forget(session, state)
        if self._public_live() != self.live:
            frames += self._beacon(self._clock())
        self._log.info("session_closed", session=session, sent=state.seq)
        return frames

    def close_all(self) -> list[bytes]:
        """Close every open session (the publisher is closing): ENDs, then a last beacon."""
        frames: list[bytes] = []
        for session, state in list(self.sessions.items()):
            frames += self._forget(session, state)
        return [*frames, self.signing_off()]

    def signing_off(self) -> bytes:
        """A beacon saying the publisher is closing (after `close_all`; may be repeated).

        It names every session that ended lately, so a subscriber whose END was
        dropped learns it from any copy that gets through.
        """
        return self._beacon(self._clock(), signing_off=True)[-1]

    def _forget(self, session: str, state: SessionState) -> list[bytes]:
        """Take *session* out of the open ones; return its last batch and its END."""
        del self.sessions[session]
        self._public.pop(session, None)
        ended, cap = (
            (self._ended, MAX_REMEMBERED_ENDED)
            if state.remembered
            else (self._ended_random, MAX_RECENT_RANDOM_ENDED)
        )
        ended[session] = None
        if len(ended) > cap:
            del ended[next(iter(ended))]
        return self._end(state)

    def _was_closed(self, session: str) -> bool:
        return session in self._ended or session in self._ended_random

    def _public_live(self) -> str | None:
        """The newest open session that is not private: the one followers hear."""
        return next(reversed(self._public), None)

    def send(
        self, session: str, payload: bytes, ttl: float, now: float | None = None
    ) -> list[bytes]:
        """Number one message of *session*; return the frames to send now.

        The publisher's hot path calls `SessionState.frame` itself, as this does.
        """
        frame = self.session(session).frame(payload, ttl, self._clock() if now is None else now)
        return [] if frame is None else [frame]

    def _relabel(self) -> None:
        """Move the LIVE flag to the newest open session that is not private."""
        sessions = self.sessions
        live = self._public_live()
        previous, self.live = self.live, live
        if previous == live:
            return
        if previous is not None and previous in sessions:
            sessions[previous].label(live=False)
            self._previous = (previous, sessions[previous].seq)  # followers heard up to here
        if live is not None:
            sessions[live].label(live=True)

    def _end(self, state: SessionState) -> list[bytes]:
        frames = [] if (pending := state.flush()) is None else [pending]  # last messages first
        now = self._clock()
        frames.append(encode(state.topic, Kind.END, state.seq, now))
        self._ends_to_repeat[state.topic] = [state.seq, END_REPEATS]
        name = topic_session(state.topic)
        self._recently_ended.append((name, state.seq, now))
        return frames

    # -- beacons and batches ---------------------------------------------------------

    def tick(self, now: float | None = None) -> list[bytes]:
        """What is due at *now*: a beacon (every ``beacon_interval``), else due batches."""
        now = self._clock() if now is None else now
        if now >= self._next_beacon:
            return self._beacon(now, scheduled=True)
        if self.batch_size == 1:
            return []
        return [
            frame
            for state in self.sessions.values()
            if state.batch is not None
            and state.batch.due(now)
            and (frame := state.batch.flush()) is not None
        ]

    def flush(self) -> list[bytes]:
        """Every waiting batch as a frame, now (batching only)."""
        if self.batch_size == 1:
            return []
        return [frame for state in self.sessions.values() if (frame := state.flush()) is not None]

    def _beacon(
        self, now: float, *, scheduled: bool = False, signing_off: bool = False
    ) -> list[bytes]:
        """Waiting batches, END repeats (*scheduled* beacons only), then a beacon.

        The batches go first and under their old LIVE flag: what was sent before a
        switch arrives before the beacon that announces it. END repeats ride only
        on the beacons of the schedule, a beacon interval apart: the beacons that
        openings and closings send at once would put every repeat into the same
        full queue within a millisecond.
        """
        frames = self.flush()
        self._relabel()
        if scheduled:
            for topic, repeat in list(self._ends_to_repeat.items()):
                frames.append(encode(topic, Kind.END, repeat[0], now))
                repeat[1] -= 1
                if not repeat[1]:
                    del self._ends_to_repeat[topic]
        self._beacon_seq += 1
        frames.append(
            encode_beacon(
                self.control,
                self._beacon_seq,
                now,
                self.beacon_interval,
                self.beacon(now, signing_off=signing_off),
            )
        )
        self._next_beacon = now + self.beacon_interval
        return frames

    def beacon(self, now: float | None = None, *, signing_off: bool = False) -> Beacon:
        """What a beacon sent at *now* says.

        This publisher, the live session and its last seq, and the sessions that
        ended within `ENDED_RETENTION_S`.
        """
        now = self._clock() if now is None else now
        ended = self._recently_ended
        while ended and now - ended[0][2] > ENDED_RETENTION_S:
            ended.popleft()
        live = self.live
        live_seq = self.sessions[live].seq if live is not None else 0
        previous = self._previous if self._previous and self._previous[0] in self.sessions else None
        return Beacon(
            self.publisher_id,
            live or "",
            live_seq,
            tuple((name, seq) for name, seq, _ in ended),
            signing_off,
            *(previous or ("", 0)),
        )

    # -- presence --------------------------------------------------------------------

    def hear(self, event: bytes, now: float | None = None, owner: bytes = b"") -> list[bytes]:
        """Apply one XPUB subscription event; return what it makes due (a last value).

        *owner* is the sender's authenticated key (CURVE), which presence is bound
        to. A subscriber joining the control topic makes a beacon due at once (the
        next `tick`), so it learns what is live without waiting for the schedule.
        """
        refused = self.presence.refused
        change = self.presence.apply(event, owner)
        if change is None:
            if self.presence.refused != refused:
                self._limited.warning(
                    "listeners_refused",
                    refused=self.presence.refused,
                    max_listeners=self.presence.max_listeners,
                )
            return []
        self.presence_changed = True
        if change.topic == self.control:
            if change.joined:
                self._next_beacon = 0.0
            return []
        if not change.topic.startswith(self._prefix):
            return []  # another channel's subscriber: counted, not announced
        session = topic_session(change.topic)
        self._limited.info(
            "listener_joined" if change.joined else "listener_left",
            session=session,
            listeners=change.listeners,
            key=change.owner.decode("ascii", "replace") or None,
        )
        self.events.append(ListenerEvent(session, change.joined, change.listeners, change.at))
        if change.joined and self.keep_last:
            return self._last_value(session, change.listener, now)
        return []

    def listeners(self, session: str) -> int:
        """How many subscribers are tuned in to *session* now (a valid name)."""
        return self.presence.count(session_topic(self.channel, session))

    def listener_keys(self, session: str) -> dict[str, int]:
        """Listeners of *session* per authenticated key (Z85; ``""`` without CURVE)."""
        owners = self.presence.owners(session_topic(self.channel, session))
        return {owner.decode("ascii", "replace"): count for owner, count in owners.items()}

    def channel_listeners(self) -> int:
        """How many subscribers are connected to the channel, in any session or none."""
        return self.presence.count(self.control)

    def take_presence_changed(self) -> bool:
        """Whether presence changed since the last call."""
        changed, self.presence_changed = self.presence_changed, False
        return changed

    def _last_value(self, session: str, listener: bytes, now: float | None) -> list[bytes]:
        """The session's latest message, if still within its TTL, for *listener* alone.

        It goes to the listener's inbox, a topic no one else subscribes to; waiting
        batches go first, so the last value never overtakes what was sent before it.
        """
        state = self.sessions.get(session)
        if state is None or state.last is None:
            return []
        frames = [] if (pending := state.flush()) is None else [pending]
        seq, sent_at, ttl, payload, kind = state.last
        if ttl and (self._clock() if now is None else now) > sent_at + ttl:
            return frames  # never an expired one
        inbox = inbox_topic(self.channel, listener)
        frames.append(
            encode_inbox(inbox, state.topic[len(self._prefix) :], kind, seq, sent_at, ttl, payload)
        )
        return frames
