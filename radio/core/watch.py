"""What an observer of a channel has heard: publishers, sessions, rates, audience, losses."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Final, NamedTuple

from radio.core.names import (
    TOPIC_DELIMITER,
    audience_topic,
    channel_prefix,
    control_topic,
    validate_name,
)
from radio.core.tuner import OFF_AIR_AFTER_BEACONS, Tuner
from radio.core.wire import (
    Audience,
    Beacon,
    Kind,
    decode,
    header_offset,
    is_parted,
    span,
    unpack_flagged,
)
from radio.errors import InvalidNameError, MalformedMessageError
from radio.message import Message

RATE_WINDOW_S: Final[float] = 3.0
"""Messages per second are counted over this long (or since the session was first heard)."""

RATE_BUCKET_S: Final[float] = 0.1
"""Arrivals closer than this share one entry of a session's rate window."""

MAX_PUBLISHERS: Final[int] = 16
"""Publisher instances kept: a new one beyond this evicts the one heard least recently."""

MAX_SESSIONS: Final[int] = 256
"""Sessions not ended kept per publisher instance (the quietest go first)."""

MAX_ENDED: Final[int] = 16
"""Ended sessions kept per publisher instance (the most recent)."""

LIVE: Final[str] = "live"
OPEN: Final[str] = "open"
ENDED: Final[str] = "ended"
_STATE_ORDER: Final[dict[str, int]] = {LIVE: 0, OPEN: 1, ENDED: 2}


class SessionRow(NamedTuple):
    """One session of one publisher instance, as the observer sees it now.

    ``state``: live, open or ended; ``last_seq``: the last seq known (heard, or
    said by a beacon or the audience); ``rate``: messages heard a second, lately;
    ``heard``: messages heard since the observer started; ``listeners``: as the
    publisher counts them (its latest AUDIENCE frame), None when it did not say.
    """

    name: str
    state: str
    last_seq: int
    rate: float
    heard: int
    listeners: int | None


class PublisherRow(NamedTuple):
    """One publisher instance heard on the channel, and its sessions.

    ``audience``: whether its AUDIENCE frames come (None counts when not);
    ``channel_listeners``: radio subscribers connected to the channel, as it counts
    them; ``desk_sessions``, ``desk_listeners``: its desk clients' sessions and
    their listeners; ``unlisted``: open sessions its audience did not list.
    """

    publisher: str
    on_air: bool
    signing_off: bool
    beacon_interval: float
    last_beacon_age: float | None
    live: str
    audience: bool
    channel_listeners: int | None
    desk_sessions: int | None
    desk_listeners: int | None
    unlisted: int
    sessions: tuple[SessionRow, ...]


class Snapshot(NamedTuple):
    """Everything the observer shows: the channel, its publishers, its own losses."""

    channel: str
    wall: float
    publishers: tuple[PublisherRow, ...]
    losses: dict[str, int]
    lost: int
    malformed: int
    received: int


class _Session:
    """What is known of one session of one publisher instance."""

    def __init__(self, now: float) -> None:
        self.state = OPEN
        self.last_seq = 0
        self.heard = 0
        self.first = now
        self.touched = now
        self.arrivals: deque[list[float]] = deque()  # [bucket start, messages]

    def add(self, seq: int, count: int, now: float) -> None:
        self.last_seq = max(self.last_seq, seq + count - 1)
        self.heard += count
        self.touched = now
        arrivals = self.arrivals
        if arrivals and now - arrivals[-1][0] < RATE_BUCKET_S:
            arrivals[-1][1] += count
        else:
            arrivals.append([now, float(count)])

    def rate(self, now: float) -> float:
        arrivals = self.arrivals
        while arrivals and now - arrivals[0][0] > RATE_WINDOW_S:
            arrivals.popleft()
        span_s = min(RATE_WINDOW_S, now - self.first)
        if not arrivals or span_s <= 0.0:
            return 0.0
        return sum(entry[1] for entry in arrivals) / max(span_s, RATE_BUCKET_S)


class _Publisher:
    """What is known of one publisher instance."""

    def __init__(self, now: float) -> None:
        self.touched = now
        self.beacon_at: float | None = None
        self.interval = 0.0
        self.beacon: Beacon | None = None
        self.audience: Audience | None = None
        self.audience_at = 0.0
        self.sessions: dict[str, _Session] = {}

    def session(self, name: str, now: float) -> _Session:
        found = self.sessions.get(name)
        if found is None:
            found = self.sessions[name] = _Session(now)
            self._bound(lambda s: s.state != ENDED, MAX_SESSIONS)
        return found

    def _bound(self, which: Callable[[_Session], bool], most: int) -> None:
        """Forget the sessions *which* picks touched least recently, beyond *most* of them."""
        picked = [name for name, session in self.sessions.items() if which(session)]
        if len(picked) > most:
            picked.sort(key=lambda name: self.sessions[name].touched)
            for name in picked[: len(picked) - most]:
                del self.sessions[name]

    def end(self, name: str, seq: int, now: float) -> None:
        session = self.session(name, now)
        if session.state != ENDED:
            session.state = ENDED
            session.touched = now
        session.last_seq = max(session.last_seq, seq)
        self._bound(lambda s: s.state == ENDED, MAX_ENDED)


class Watch:
    """An observer's model of a channel: fed the frames read, asked for `snapshot`.

    Pure: no socket, no terminal; clocks injected. It keeps what each publisher
    instance said (beacons: live, previous, ended; AUDIENCE frames: listeners),
    each session's last seq and rate from the frames heard, and its own losses by
    reason through a `Tuner` tuned in to every session heard (so gaps, expiries,
    malformed frames are counted as a subscriber counts them). It never answers a
    publisher: whoever feeds it subscribes without presence markers.
    """

    def __init__(
        self,
        channel: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        off_air_after: int = OFF_AIR_AFTER_BEACONS,
    ) -> None:
        self.channel = channel
        self._monotonic = monotonic
        self._clock = clock
        self._off_air_after = off_air_after
        self._prefix = channel_prefix(channel)
        self._control = control_topic(channel)
        self._audience = audience_topic(channel)
        self._publishers: dict[bytes, _Publisher] = {}
        self.tuner = Tuner(channel, clock=clock, monotonic=monotonic, off_air_after=off_air_after)

    def take(self, frames: list[bytes]) -> None:
        """Note the frames of one read (whole messages, in order), then count them."""
        now = self._monotonic()
        index = 0
        count = len(frames)
        while index < count:
            frame = frames[index]
            index += 1
            try:
                offset = header_offset(frame)
                if is_parted(frame, offset):
                    index += 1  # its payload part: the tuner checks the pair
            except MalformedMessageError:
                continue  # the tuner counts it
            self._note(frame, offset, now)
        self.tuner.take(frames, self._heard)

    def _heard(self, message: Message) -> None:
        """A message the tuner yields: counted in its stats, nothing more to do."""

    def _note(self, frame: bytes, offset: int, now: float) -> None:
        topic = frame[:offset]
        if topic == self._control or topic == self._audience:
            try:
                decoded = decode(frame)
            except MalformedMessageError:
                return
            publisher = self._publisher(decoded.publisher, now)
            if decoded.beacon is not None:
                self._beacon(publisher, decoded.beacon, decoded.ttl, now)
            elif decoded.audience is not None:
                self._note_audience(publisher, decoded.audience, now)
            return
        if not topic.startswith(self._prefix):
            return
        try:
            kind, _, _, instance, seq, _, _ = unpack_flagged(frame, offset)
        except MalformedMessageError:
            return
        try:
            raw = topic[len(self._prefix) : -len(TOPIC_DELIMITER)].decode("ascii")
            name = validate_name(raw, "session")
        except (UnicodeDecodeError, InvalidNameError):
            return  # not a session's topic: the tuner counts the frame malformed
        publisher = self._publisher(instance, now)
        if kind is Kind.END:
            publisher.end(name, seq, now)
            return
        first, messages, _ = span(frame, offset)
        if first == 0 and messages == 1 and kind is not Kind.DATA:
            return  # a damaged batch: the tuner counts it
        session = publisher.session(name, now)
        if session.state == ENDED:
            return
        session.add(seq, messages, now)
        if name not in self.tuner.sessions:
            self.tuner.tune_in(name)  # hear it, to count what of it is lost

    def _publisher(self, instance: bytes, now: float) -> _Publisher:
        found = self._publishers.get(instance)
        if found is None:
            found = self._publishers[instance] = _Publisher(now)
            if len(self._publishers) > MAX_PUBLISHERS:
                oldest = min(self._publishers, key=lambda key: self._publishers[key].touched)
                del self._publishers[oldest]
        found.touched = now
        return found

    def _beacon(self, publisher: _Publisher, beacon: Beacon, interval: float, now: float) -> None:
        publisher.beacon, publisher.beacon_at, publisher.interval = beacon, now, interval
        for name, seq in beacon.ended:
            publisher.end(name, seq, now)
        for name, seq in ((beacon.live, beacon.live_seq), (beacon.previous, beacon.previous_seq)):
            if name:
                session = publisher.session(name, now)
                if session.state != ENDED:
                    session.last_seq = max(session.last_seq, seq)

    def _note_audience(self, publisher: _Publisher, audience: Audience, now: float) -> None:
        publisher.audience, publisher.audience_at = audience, now
        for name, _, seq in audience.sessions:
            session = publisher.session(name, now)
            if session.state != ENDED:
                session.last_seq = max(session.last_seq, seq)

    def snapshot(self) -> Snapshot:
        """What the observer shows now: publishers heard most recently first."""
        now = self._monotonic()
        rows = [
            self._row(instance, publisher, now)
            for instance, publisher in sorted(
                self._publishers.items(), key=lambda item: -item[1].touched
            )
        ]
        stats = self.tuner.snapshot()
        losses = {
            "gaps": stats.gaps,
            "expired": stats.expired,
            "fenced": stats.fenced,
            "oversize": stats.oversize,
            "malformed": stats.malformed,
            "unknown_tails": stats.unknown_tails,
            "conflicts": stats.conflicts,
        }
        return Snapshot(
            self.channel,
            self._clock(),
            tuple(rows),
            losses,
            stats.lost,
            stats.malformed,
            stats.received,
        )

    def _row(self, instance: bytes, publisher: _Publisher, now: float) -> PublisherRow:
        beacon = publisher.beacon
        live = beacon.live if beacon is not None else ""
        audience = publisher.audience
        # An audience older than a few intervals says nothing of now (turned off, or lost).
        fresh = audience is not None and (
            now - publisher.audience_at <= self._off_air_after * max(publisher.interval, 1e-3)
        )
        counts = {entry[0]: entry[1] for entry in audience.sessions} if audience else {}
        sessions: list[SessionRow] = []
        for name, session in publisher.sessions.items():
            state = session.state
            if state != ENDED:
                state = LIVE if name == live else OPEN
            listeners = counts.get(name) if fresh and state != ENDED else None
            if fresh and state == ENDED:
                listeners = 0
            sessions.append(
                SessionRow(
                    name, state, session.last_seq, session.rate(now), session.heard, listeners
                )
            )
        sessions.sort(key=lambda row: (_STATE_ORDER[row.state], -(row.listeners or 0), row.name))
        on_air = publisher.beacon_at is not None and (
            now - publisher.beacon_at <= self._off_air_after * publisher.interval
        )
        return PublisherRow(
            instance.hex(),
            on_air,
            beacon is not None and beacon.signing_off,
            publisher.interval,
            None if publisher.beacon_at is None else now - publisher.beacon_at,
            live,
            fresh,
            audience.channel if fresh and audience else None,
            audience.private_sessions if fresh and audience else None,
            audience.private_listeners if fresh and audience else None,
            audience.unlisted if fresh and audience else 0,
            tuple(sessions),
        )


def snapshot_dict(snapshot: Snapshot) -> dict[str, object]:
    """*snapshot* as plain JSON-ready values (``radio-top --once --json``)."""
    return {
        "channel": snapshot.channel,
        "wall": snapshot.wall,
        "publishers": [
            {
                **{key: value for key, value in row._asdict().items() if key != "sessions"},
                "sessions": [session._asdict() for session in row.sessions],
            }
            for row in snapshot.publishers
        ],
        "losses": dict(snapshot.losses),
        "lost": snapshot.lost,
        "received": snapshot.received,
    }
