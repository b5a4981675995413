"""The Subscriber: tunes in to sessions on a SUB socket and yields only what it may hear."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from types import TracebackType
from typing import Final

import structlog
import zmq

from radio.errors import ClosedError
from radio.message import Message, Stats
from radio.names import session_topic, validate_name
from radio.service import ServiceThread
from radio.settings import (
    DEFAULT_HWM,
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    Heartbeat,
    validate_count,
    validate_endpoint,
    validate_timeout,
)
from radio.sockets import apply_heartbeat, attach
from radio.tuner import Tuner

log = structlog.get_logger("radio")

POLL_SLICE_S: Final[float] = 0.05
"""Longest a waiting `recv` holds the lock at a time (other threads may retune between)."""

CLOSE_LINGER_MS: Final[int] = 100
"""How long closing waits to flush the last unsubscriptions."""

_NOBLOCK: Final[int] = zmq.NOBLOCK


class Subscriber:
    """Hears the sessions it is tuned in to on a channel, and nothing else.

    The subscriber connects by default (``bind=True`` binds). It never yields a
    message of a session it is not tuned in to, nor one older than its TTL; it
    counts what it drops in `stats`. A background thread services the socket so
    that the publisher sees a tune-in while the application is busy, and reads
    ahead at most ``hwm`` frames so that a follower moves to a new session on time.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        channel: str = "radio",
        bind: bool = False,
        hwm: int = DEFAULT_HWM,
        conflate: bool = False,
        heartbeat: float | None = HEARTBEAT_INTERVAL_S,
        heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S,
        max_message_size: int | None = MAX_MESSAGE_BYTES,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.channel = validate_name(channel, "channel")
        self.bind = bool(bind)
        self.hwm = validate_count(hwm, "hwm")
        self.conflate = bool(conflate)
        heartbeat_settings = Heartbeat(heartbeat, heartbeat_timeout)
        max_size = (
            None
            if max_message_size is None
            else validate_count(max_message_size, "max message size")
        )
        validate_endpoint(endpoint)
        self._tuner = Tuner(self.channel)
        self._lock = threading.Lock()
        self._closed = False
        self._subscribed: frozenset[bytes] = frozenset()
        # Frames the service thread read ahead while the application was busy.
        self._ahead: deque[bytes] = deque()
        self._ahead_limit = self.hwm or DEFAULT_HWM
        # conflate: the newest message heard and not yet yielded.
        self._latest: Message | None = None
        self._log = log.bind(channel=self.channel)

        ctx = context if context is not None else zmq.Context.instance()
        self._socket: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
        try:
            sock = self._socket
            sock.setsockopt(zmq.RCVHWM, self.hwm)
            sock.setsockopt(zmq.LINGER, CLOSE_LINGER_MS)
            sock.setsockopt(zmq.MAXMSGSIZE, -1 if max_size is None else max_size)
            apply_heartbeat(sock, heartbeat_settings)
            self._sync()
            self.endpoint = attach(sock, endpoint, bind=self.bind)
        except BaseException:
            self._socket.close(linger=0)
            raise
        self._service = ServiceThread(self._lock, self._service_locked, f"radio-sub-{self.channel}")
        self._service.start()
        self._log.info("subscriber_started", endpoint=self.endpoint, bind=self.bind)

    # -- context manager, repr, state ----------------------------------------------------

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = "bind" if self.bind else "connect"
        state = " closed" if self._closed else ""
        return f"<Subscriber channel={self.channel!r} {mode} {self.endpoint}{state}>"

    @property
    def sessions(self) -> frozenset[str]:
        """The sessions heard now: the ones tuned in to, and the followed live one."""
        return self._tuner.sessions

    @property
    def following(self) -> bool:
        """Whether the subscriber follows the channel's live session."""
        return self._tuner.following

    @property
    def live(self) -> str | None:
        """The live session being followed, or None (not following, or nothing live)."""
        return self._tuner.live

    @property
    def stats(self) -> Stats:
        """A snapshot of what was heard and what was dropped, by reason."""
        with self._lock:
            return self._tuner.stats.copy()

    # -- tuning --------------------------------------------------------------------------

    def tune_in(self, session: str) -> None:
        """Hear *session* from now on, until `tune_out` or the publisher closes it."""
        validate_name(session, "session")
        with self._lock:
            self._check_open()
            self._tuner.tune_in(session)
            self._sync()
        self._log.info("tuned_in", session=session)

    def tune_out(self, session: str) -> None:
        """Stop hearing *session*; messages of it still queued are never yielded."""
        validate_name(session, "session")
        with self._lock:
            self._check_open()
            self._tuner.tune_out(session)
            self._sync()
        self._log.info("tuned_out", session=session)

    def follow(self) -> None:
        """Hear the channel's live session, moving to each new one as the publisher opens it."""
        with self._lock:
            self._check_open()
            self._tuner.follow()
            self._sync()
        self._log.info("following")

    def unfollow(self) -> None:
        """Stop following the live session (sessions tuned in to explicitly stay)."""
        with self._lock:
            self._check_open()
            self._tuner.unfollow()
            self._sync()
        self._log.info("unfollowed")

    def _sync(self) -> None:
        """Make the socket's subscriptions match the tuner's topics (under the lock)."""
        wanted = self._tuner.topics()
        for topic in self._subscribed - wanted:
            self._socket.setsockopt(zmq.UNSUBSCRIBE, topic)
        for topic in wanted - self._subscribed:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic)
        self._subscribed = wanted
        self._tuner.changed = False

    # -- receiving -----------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Message | None:
        """Return the next message heard, or None after *timeout* seconds (None: wait for ever)."""
        timeout_s = validate_timeout(timeout)
        deadline: float | None = None
        while True:
            with self._lock:
                self._check_open()
                message = self._conflated() if self.conflate else self._next_message()
                if message is not None:
                    return message
                now = time.monotonic()
                if deadline is None:
                    deadline = now + (timeout_s if timeout_s is not None else float("inf"))
                remaining = deadline - now
                if remaining <= 0:
                    return None
                self._socket.poll(round(min(remaining, POLL_SLICE_S) * 1000))

    def _next_message(self) -> Message | None:
        """Handle frames in order until one yields a message; None when none is left."""
        tuner = self._tuner
        while True:
            if self._ahead:
                frame = self._ahead.popleft()
            else:
                try:
                    frame = self._socket.recv(_NOBLOCK)
                except zmq.Again:
                    return None
            message = tuner.handle(frame)
            if tuner.changed:
                self._sync()
            if message is not None:
                return message

    def _conflated(self) -> Message | None:
        """Handle every frame waiting and return only the newest message (conflate mode).

        radio conflates itself rather than use ZMQ_CONFLATE, whose one slot a beacon
        or END could take from the last message, and which can miss a wake-up.
        """
        self._absorb_latest()
        latest, self._latest = self._latest, None
        return latest

    def _absorb_latest(self) -> None:
        """Handle every frame waiting, keeping only the newest message in ``_latest``."""
        while (message := self._next_message()) is not None:
            if self._latest is not None:
                self._tuner.stats.conflated += 1
            self._latest = message

    def __iter__(self) -> Iterator[Message]:
        """Yield messages as they are heard until the subscriber is closed."""
        while True:
            try:
                message = self.recv()
            except ClosedError:
                return
            if message is not None:
                yield message

    # -- servicing and closing -----------------------------------------------------------

    def _service_locked(self) -> None:
        """Attach new connections (sending them our subscriptions) and read ahead.

        Frames read ahead are handled in order by `recv`, so a message sent before
        a session switch is still yielded. A beacon naming a new live session is
        also acted on at once: the follower subscribes to that session now, so the
        publisher sees it tuned in and queues the session's messages for it while
        the application is busy. Reading ahead stops at ``hwm`` frames, so memory
        stays bounded.
        """
        if self._closed:
            return
        self._socket.getsockopt(zmq.EVENTS)  # processes pending commands: attaches peers
        if self.conflate:  # latest value only: order is moot, keep just the newest
            self._absorb_latest()
            return
        tuner = self._tuner
        while len(self._ahead) < self._ahead_limit:
            try:
                frame = self._socket.recv(_NOBLOCK)
            except zmq.Again:
                break
            self._ahead.append(frame)
            if frame.startswith(tuner.control_topic):
                live = tuner.announced_live(frame)
                if live is not None:
                    self._subscribe_ahead(live)

    def _subscribe_ahead(self, session: str) -> None:
        """Subscribe to a newly live session before `recv` reaches the beacon naming it."""
        topic = session_topic(self.channel, session)
        if topic not in self._subscribed:
            self._socket.setsockopt(zmq.SUBSCRIBE, topic)
            self._subscribed = self._subscribed | {topic}

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(f"{self!r} is closed")

    def close(self) -> None:
        """Tune out of everything and close the socket."""
        if self._closed:
            return
        self._service.stop()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._ahead.clear()
            self._socket.close(linger=CLOSE_LINGER_MS)
        self._log.info("subscriber_closed", endpoint=self.endpoint)
