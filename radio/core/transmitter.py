"""The publisher's pure core: sessions, live flag, END, beacons, batches, last value, presence."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from radio.core.announcer import Announcer
from radio.core.audience import count_audience
from radio.core.batch import BATCH_DELAY_S, Batch, Batcher
from radio.core.desk import (
    MAX_DESK_CLIENTS,
    MAX_DESK_CLIENTS_PER_KEY,
    DeskAnswer,
    DeskClients,
    encode_refusal,
    encode_reply,
    parse_request,
)
from radio.core.names import (
    audience_topic,
    channel_prefix,
    control_topic,
    inbox_topic,
    new_session_id,
    session_topic,
    split_listener,
    topic_session,
)
from radio.core.presence import Change, ListenerEvent, Presence
from radio.core.session import SessionState
from radio.core.wire import (
    MAX_BATCH_MESSAGES,
    Audience,
    Beacon,
    Kind,
    encode_audience,
    encode_inbox,
)
from radio.errors import (
    DeskError,
    SessionClosedError,
    SessionError,
    UnknownSessionError,
)
from radio.logs import RateLimitedLog, get_logger

log = get_logger()

BEACON_INTERVAL_S: Final[float] = 1.0
"""Default time between two beacons on the channel's control topic."""

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


class Transmitter:
    """Decides every frame a publisher sends; no socket, no thread, clock injected.

    It owns the open sessions (`sessions`, oldest first) and which one is `live`,
    END frames and their repeats, the beacon schedule, the batching policy, the
    last-value store and presence, fed by XPUB subscription events. Each call
    returns the frames to send, in order; the driver sends them without blocking.

    Every frame is stamped with the *monotonic* clock (so is every *now* given to
    it): batch delays, last-value TTLs and beacons run on it, and a wall-clock
    step changes nothing. The wall clock (*clock*) is read only for the beacons'
    ``wall`` field, which lets subscribers show wall times.
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
        max_desk_clients: int = MAX_DESK_CLIENTS,
        max_desk_clients_per_key: int = MAX_DESK_CLIENTS_PER_KEY,
        audience: bool = True,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_MESSAGES:
            raise ValueError(f"batch size {batch_size} is not 1 to {MAX_BATCH_MESSAGES}")
        self.channel = channel
        self.sessions: dict[str, SessionState] = {}
        self.live: str | None = None
        self.presence = Presence(monotonic)
        self.events: deque[ListenerEvent] = deque(maxlen=MAX_PENDING_EVENTS)
        self.presence_changed = False
        self.batch_size = batch_size
        self.batch_delay = batch_delay
        self.batch_type: Callable[[bytes, int, int, float, bytes], Batcher] = Batch
        """What makes a session's batch: `Batch`, or its C twin (set by a driver that has it)."""
        self.keep_last = keep_last
        self._max_frame = max_frame
        self._stamp = monotonic  # every stamp: the wall clock goes to the announcer alone
        self._prefix = channel_prefix(channel)
        self.control = control_topic(channel)
        # Closed names that may not reopen, and the newest closed random IDs, oldest first
        # (OrderedDicts: a plain dict used as a queue slows down as its head is deleted).
        # (closed name -> its last seq: what a HELLO says to whoever tunes in to it late)
        self._ended: OrderedDict[str, int] = OrderedDict()
        self._ended_random: OrderedDict[str, int] = OrderedDict()
        self._public: dict[str, None] = {}  # open sessions that may be live, oldest first
        self._final_ends: list[bytes] = []  # close_all's END frames, for last_words
        self.opened = 0  # sessions opened, desk clients' too
        self.sent_closed = 0  # messages numbered on the sessions closed so far
        self.announcer = Announcer(self.control, beacon_interval, publisher_id, monotonic, clock)
        self.publisher_id = self.announcer.publisher_id  # in every header we send
        # An AUDIENCE frame with each scheduled beacon (for observers), unless turned off.
        self.audience_on = audience
        self._audience_topic = audience_topic(channel)
        self._audience_seq = 0
        self._audience_due = False  # a scheduled beacon went: `take_audience` has one
        self.desk = DeskClients(max_desk_clients, max_desk_clients_per_key)
        self._log = log.bind(channel=channel)
        self._limited = RateLimitedLog(self._log)

    # -- sessions ------------------------------------------------------------------

    @property
    def closed(self) -> int:
        """Sessions closed (ended) so far, desk clients' too: every one opened and gone."""
        return self.opened - len(self.sessions)

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
            batch = self.batch_type(
                topic, self.batch_size, limit, self.batch_delay, self.publisher_id
            )
        self.sessions[session] = SessionState(
            self.channel,
            topic,
            max_frame=self._max_frame,
            batch=batch,
            keep_last=self.keep_last,
            private=private,
            remembered=remembered and not private,
            publisher=self.publisher_id,
        )
        self.opened += 1
        frames: list[bytes] = []
        if not private:
            self._public[session] = None
            frames = self._beacon(self._stamp())  # names it live, after the old one's batches
        self._log.info("session_opened", session=session)
        return frames

    def close(self, session: str) -> list[bytes]:
        """Close *session*: its last batch, its END, and a beacon if the live one changed."""
        state = self.session(session)
        frames = self._forget(session, state)
        if self._public_live() != self.live:
            frames += self._beacon(self._stamp())
        self._log.info("session_closed", session=session, sent=state.seq)
        return frames

    def close_all(self) -> list[bytes]:
        """Close every open session (the publisher is closing): ENDs, then a last beacon."""
        frames: list[bytes] = []
        for session, state in list(self.sessions.items()):
            part = self._forget(session, state)  # its last batch, then its END
            frames += part
            self._final_ends.append(part[-1])
        return [*frames, self.signing_off()]

    def last_words(self) -> list[bytes]:
        """The ENDs `close_all` sent and a signing-off beacon, to send again.

        Duplicates are harmless: a subscriber tuned out of a session ignores them.
        """
        return [*self._final_ends, self.signing_off()]

    def signing_off(self) -> bytes:
        """A beacon saying the publisher is closing (after `close_all`; may be repeated).

        It names every session that ended lately, so a subscriber whose END was
        dropped learns it from any copy that gets through.
        """
        return self._beacon(self._stamp(), signing_off=True)[-1]

    def _forget(self, session: str, state: SessionState) -> list[bytes]:
        """Take *session* out of the open ones; return its last batch and its END."""
        del self.sessions[session]
        self._public.pop(session, None)
        self.desk.forget(session)
        self.sent_closed += state.seq
        ended, cap = (
            (self._ended, MAX_REMEMBERED_ENDED)
            if state.remembered
            else (self._ended_random, MAX_RECENT_RANDOM_ENDED)
        )
        ended[session] = state.seq
        if len(ended) > cap:
            ended.popitem(last=False)
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

        That is one frame, none (a batch is filling), or a two-part message's head
        and payload part (`SessionState.parted`), to send as one ZeroMQ message.
        The publisher's hot path calls `SessionState.frame` itself, as this does.
        """
        state = self.session(session)
        frame = state.frame(payload, ttl, self._stamp() if now is None else now)
        if frame is None:
            return []
        return [frame, payload] if state.parted(payload) else [frame]

    def send_many(
        self, session: str, payloads: list[bytes], ttl: float, now: float | None = None
    ) -> list[bytes | tuple[bytes, bytes]]:
        """Number *payloads* of *session*, all sent at *now*; return the messages to send now.

        Each is a frame (a BATCH of several, on a session that sends plain frames)
        or a two-part message's head and payload part (`SessionState.messages`,
        which `Publisher.send_many` calls itself, as this does).
        """
        stamp = self._stamp() if now is None else now
        return self.session(session).messages(payloads, ttl, stamp)

    def _relabel(self) -> None:
        """Move the LIVE flag to the newest open session that is not private."""
        sessions = self.sessions
        live = self._public_live()
        previous, self.live = self.live, live
        if previous == live:
            return
        if previous is not None and previous in sessions:
            sessions[previous].label(live=False)
            self.announcer.superseded(previous, sessions[previous].seq)
        if live is not None:
            sessions[live].label(live=True)

    def _end(self, state: SessionState) -> list[bytes]:
        frames = [] if (pending := state.flush()) is None else [pending]  # last messages first
        name = topic_session(state.topic)
        frames.append(self.announcer.ended(state.topic, name, state.seq, self._stamp()))
        return frames

    # -- the desk ----------------------------------------------------------------------

    def answer_desk(
        self, request: bytes, advertise: str, owner: bytes = b""
    ) -> tuple[bytes, list[bytes]]:
        """Answer one desk request from *owner*: the reply, and the frames to publish.

        A valid JOIN gets a fresh session (see `join`) to listen to at *advertise*;
        anything else, a full desk or a peer over its quota gets a refusal saying why.
        *owner* is the peer that asked: its CURVE key, or its connection.
        """
        try:
            session, frames = self.join(parse_request(request), owner)
        except DeskError as exc:
            self.desk.refused += 1
            self._limited.warning("desk_request_refused", reason=str(exc))
            return encode_refusal(str(exc)), []
        self.desk.joined += 1
        return encode_reply(DeskAnswer(advertise, self.channel, session)), frames

    def join(self, client: str, owner: bytes = b"") -> tuple[str, list[bytes]]:
        """Close *client*'s previous desk session and open a fresh private one, in O(1).

        Returns the new session and the frames to send. An *owner* (the peer that
        asks) at its quota, or a full desk, first evicts (closes) the session of the
        client unlistened the longest, of that owner or of anyone; raises `DeskError`
        when there is none (see `DeskClients.make_room`).
        """
        frames: list[bytes] = []
        evicted = self.desk.make_room(client, owner)
        if evicted is not None:
            self.desk.evicted += 1
            if evicted[1] in self.sessions:
                frames += self.close(evicted[1])
            self._limited.warning(
                "desk_client_evicted",
                client=evicted[0],
                session=evicted[1],
                evicted=self.desk.evicted,
            )
        previous = self.desk.forget_client(client)  # joins again: the most recent now
        if previous is not None and previous in self.sessions:
            frames += self.close(previous)
        session = new_session_id()
        frames += self.open(session, private=True, remembered=False)
        self.desk.add(client, session, owner, self._listened(session))
        self._limited.info("desk_joined", client=client, session=session, previous=previous)
        return session, frames

    def desk_session(self, client: str) -> str | None:
        """The session the desk gave *client* last, while it is open (else None)."""
        session = self.desk.session_of(client)
        return session if session in self.sessions else None

    def _listened(self, session: str) -> bool:
        """Whether *session* is open and somebody listens to it."""
        return session in self.sessions and self.listeners(session) > 0

    # -- beacons and batches ---------------------------------------------------------

    def tick(self, now: float | None = None) -> list[bytes]:
        """What is due at *now*: a beacon (on the announcer's schedule), else due batches."""
        now = self._stamp() if now is None else now
        if self.announcer.due():
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
        """Waiting batches, then the beacon (with END repeats when *scheduled*).

        The batches go first and under their old LIVE flag: what was sent before a
        switch arrives before the beacon that announces it.
        """
        frames = self.flush()
        self._relabel()
        live = self.live
        live_seq = self.sessions[live].seq if live is not None else 0
        if scheduled:
            self._audience_due = self.audience_on
        return frames + self.announcer.frames(
            now, live, live_seq, self.sessions, scheduled=scheduled, signing_off=signing_off
        )

    def take_audience(self, now: float | None = None) -> list[bytes]:
        """The AUDIENCE frame due after a scheduled beacon (none when turned off, or not due).

        The driver sends it after what `tick` returned: one a beacon interval at most.
        """
        if not self._audience_due:
            return []
        self._audience_due = False
        self._audience_seq += 1
        return [
            encode_audience(
                self._audience_topic,
                self._audience_seq,
                self._stamp() if now is None else now,
                self.announcer.interval,
                self.audience(),
                self.publisher_id,
            )
        ]

    def audience(self) -> Audience:
        """The listeners counted now, as an AUDIENCE frame says them (`count_audience`).

        O(n) in the open sessions, once a beacon interval.
        """
        count = self.presence.count
        sessions = self.sessions
        return count_audience(
            count(self.control),
            [(name, count(sessions[name].topic), sessions[name].seq) for name in self._public],
            self.live,
            [count(state.topic) for state in sessions.values() if state.private],
        )

    def beacon(self, now: float | None = None) -> Beacon:
        """What a beacon sent at *now* would say (see `Announcer.beacon`)."""
        live = self.live
        live_seq = self.sessions[live].seq if live is not None else 0
        return self.announcer.beacon(
            self._stamp() if now is None else now, live, live_seq, self.sessions
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
        frames = self._changed(change, now)
        if not change.joined:  # room freed: joins refused at the cap, still subscribed, get in
            while (admitted := self.presence.admit()) is not None:
                frames += self._changed(admitted, now)
        return frames

    def _changed(self, change: Change, now: float | None) -> list[bytes]:
        """Report one presence change; return what it makes due (a HELLO, a last value)."""
        self.presence_changed = True
        if change.topic == self.control:
            if change.joined:
                self.announcer.hurry()
            return []
        if not change.topic.startswith(self._prefix):
            return []  # another channel's subscriber: counted, not announced
        session = topic_session(change.topic)
        if change.listeners == int(change.joined):  # its first listener came, or its last left
            self.desk.heard(session, change.joined)
        self._limited.info(
            "listener_joined" if change.joined else "listener_left",
            session=session,
            listeners=change.listeners,
            key=change.owner.decode("ascii", "replace") or None,
        )
        self.events.append(ListenerEvent(session, change.joined, change.listeners, change.at))
        if not change.joined:
            return []
        return self._welcome(session, change.topic, change.listener, now)

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

    def _welcome(
        self, session: str, topic: bytes, listener: bytes, now: float | None
    ) -> list[bytes]:
        """The HELLO, then the last value, for a listener that tuned in (its inbox)."""
        listener_id, tag = split_listener(listener)
        inbox = inbox_topic(self.channel, listener_id) + topic[len(self._prefix) :]
        now = self._stamp() if now is None else now
        state = self.sessions.get(session)
        if state is None:  # not open: the HELLO alone, from 0 or from where it ended
            sent = self._ended.get(session, self._ended_random.get(session, 0))
            return [encode_inbox(inbox, b"", Kind.HELLO, sent, now, 0.0, tag, self.publisher_id)]
        return state.welcome(inbox, tag, now)
