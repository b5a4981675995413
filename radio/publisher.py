"""The Publisher: broadcasts session-keyed messages on an XPUB socket and tracks listeners."""

from __future__ import annotations

import struct
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Final

import structlog
import zmq

from radio.batch import BATCH_DELAY_S, Batch
from radio.desk import (
    DESK_HWM,
    MAX_DESK_CLIENTS,
    MAX_ENVELOPE_FRAMES,
    MAX_REQUEST_BYTES,
    MAX_REQUESTS_PER_PASS,
    parse_request,
)
from radio.desk import reply as desk_reply
from radio.errors import (
    DeskError,
    InvalidSettingError,
    MessageTooLargeError,
    SessionClosedError,
    SessionError,
    UnknownSessionError,
)
from radio.names import channel_prefix, control_topic, new_session_id, session_topic, validate_name
from radio.owner import SocketOwner
from radio.presence import ListenerEvent, Presence, inbox_topic
from radio.ratelimit import RateLimitedLog
from radio.security import CurveServer, apply_server, authenticators
from radio.service import SERVICE_INTERVAL_S, ServiceThread
from radio.settings import (
    DEFAULT_HWM,
    DEFAULT_LINGER_S,
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_TIMEOUT_S,
    MAX_MESSAGE_BYTES,
    RECONNECT_INTERVAL_S,
    Heartbeat,
    SocketSettings,
    to_ms,
    validate_count,
    validate_endpoint,
    validate_seconds,
    validate_timeout,
)
from radio.sockets import MAX_SUBSCRIPTION_BYTES, attach, configure, open_socket, setup_error
from radio.wire import (
    HEADER,
    LIVE,
    MAX_BATCH_MESSAGES,
    NO_TTL,
    RECORD,
    VERSION,
    Kind,
    encode,
)

log = structlog.get_logger("radio")

BEACON_INTERVAL_S: Final[float] = 1.0
"""Default time between two beacons on the channel's control topic."""

MAX_EVENTS_PER_PASS: Final[int] = 1000
"""Most subscription events handled while holding the lock at a time."""

MAX_PENDING_EVENTS: Final[int] = 10_000
"""Listener events kept for on_listener while it catches up (the oldest go first)."""

END_REPEATS: Final[int] = 3
"""How many beacons after a session closes repeat its END frame: a full queue may
drop the first one, and a subscriber must still learn that the session is over."""

# The hot path packs a DATA header in two parts, byte for byte what `encode` writes:
# version and kind are fixed per session, seq, sent_at and ttl change per message.
_PREFIX_TAIL: Final = struct.Struct("!BB")
_pack_tail = struct.Struct("!Qdd").pack
assert _PREFIX_TAIL.size + struct.calcsize("!Qdd") == HEADER.size
_INF: Final[float] = float("inf")
_now = time.time
_NOBLOCK: Final[int] = zmq.NOBLOCK


def _label(state: _Session, live: bool) -> None:
    """Set the LIVE flag of the session's frames from now on (its batch is empty)."""
    state.prefix = state.topic + _PREFIX_TAIL.pack(VERSION, Kind.DATA | (LIVE if live else 0))
    if state.batch is not None:
        state.batch.set_live(live)


class _Session:
    """An open session: topic, frame prefix, last seq sent, batch (when batching)."""

    __slots__ = ("batch", "last", "max_payload", "prefix", "private", "seq", "topic")

    def __init__(
        self, topic: bytes, batch: Batch | None, max_frame: int, private: bool = False
    ) -> None:
        self.topic = topic
        self.private = private  # a desk client's own session: never the channel's live one
        self.prefix = topic + _PREFIX_TAIL.pack(VERSION, Kind.DATA)  # not live (yet)
        self.seq = 0
        self.batch = batch
        # The latest message (last_value=True): seq, sent_at, ttl, payload, kind byte.
        self.last: tuple[int, float, float, bytes, int] | None = None
        self.max_payload = max_frame - len(topic) - HEADER.size
        if batch is not None:
            self.max_payload -= RECORD.size  # a batched message also carries its record header


def as_payload(payload: object) -> bytes:
    """Return *payload* as bytes (bytes, bytearray and memoryview are accepted)."""
    if isinstance(payload, bytes):
        return payload
    if isinstance(payload, (bytearray, memoryview)):
        return bytes(payload)
    raise TypeError(
        f"payload must be bytes, not {type(payload).__name__} (encode text first): {payload!r:.40}"
    )


class Publisher(SocketOwner):
    """Broadcasts messages on a channel, each keyed by a session, to its subscribers.

    The publisher binds its endpoint by default (``bind=False`` connects). Each
    subscriber costs at most ``hwm`` queued messages (``0``: no limit); beyond
    that ZeroMQ drops for that subscriber alone and `send` never blocks. A
    background thread services the socket so that tune-ins and tune-outs are seen
    while the application is idle, and sends a beacon on the channel's control
    topic every ``beacon_interval`` seconds naming the live session.

    ``security`` (a `CurveServer`) encrypts every connection with CURVE and lets
    only the clients of its allow-list listen.

    ``desk`` (an endpoint it binds) serves the session desk: a client that asks
    gets a fresh session, its previous one closed, and the endpoint to listen on
    (``advertise``, default the publisher's own endpoint).

    ``last_value=True`` hands a subscriber that tunes in late the session's latest
    message at once, if it is still within its TTL, and to that subscriber only.

    ``on_listener`` is called with a `ListenerEvent` each time a subscriber tunes
    in to or out of a session (from radio's service thread, never under a lock).

    ``batch_size`` > 1 turns batching on: up to that many messages of a session
    travel in one frame, none waiting longer than ``batch_delay`` seconds. It
    trades a little latency for much higher throughput; subscribers need no setting.

    A connecting publisher (``bind=False``) abandons a connect attempt after
    ``connect_timeout`` seconds (None: the heartbeat timeout) and tries again
    every ``reconnect_interval`` seconds, backing off to one second: after a
    network partition it hears its subscribers again within about the heartbeat
    timeout plus a second, rather than on the kernel's SYN back-off.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        channel: str = "radio",
        bind: bool = True,
        hwm: int = DEFAULT_HWM,
        heartbeat: float | None = HEARTBEAT_INTERVAL_S,
        heartbeat_timeout: float = HEARTBEAT_TIMEOUT_S,
        beacon_interval: float = BEACON_INTERVAL_S,
        linger: float = DEFAULT_LINGER_S,
        max_message_size: int | None = MAX_MESSAGE_BYTES,
        connect_timeout: float | None = None,
        reconnect_interval: float = RECONNECT_INTERVAL_S,
        batch_size: int = 1,
        batch_delay: float = BATCH_DELAY_S,
        on_listener: Callable[[ListenerEvent], object] | None = None,
        security: CurveServer | None = None,
        desk: str | None = None,
        advertise: str | None = None,
        last_value: bool = False,
        max_desk_clients: int = MAX_DESK_CLIENTS,
        context: zmq.Context[zmq.Socket[bytes]] | None = None,
    ) -> None:
        self.channel = validate_name(channel, "channel")
        self.batch_size = validate_count(batch_size, "batch size") or 1
        if self.batch_size > MAX_BATCH_MESSAGES:
            raise InvalidSettingError(
                f"invalid batch size {batch_size}: at most {MAX_BATCH_MESSAGES} messages a frame"
            )
        self._batch_delay = validate_seconds(batch_delay, "batch delay")
        self.bind = bool(bind)
        self.hwm = validate_count(hwm, "hwm")
        self._beacon_interval = validate_seconds(beacon_interval, "beacon interval")
        self._settings = SocketSettings(
            hwm=self.hwm,
            heartbeat=Heartbeat(heartbeat, heartbeat_timeout),
            max_message_size=MAX_SUBSCRIPTION_BYTES,  # only subscriptions come in; see _max_frame
            linger=linger,
            connect_timeout=connect_timeout,
            reconnect_interval=reconnect_interval,
        )
        self._linger_ms = to_ms(self._settings.linger)
        self._max_frame = (
            sys.maxsize
            if max_message_size is None
            else validate_count(max_message_size, "max message size")
        )
        validate_endpoint(endpoint)
        self._prefix = channel_prefix(self.channel)
        self._control = control_topic(self.channel)
        self._sessions: dict[str, _Session] = {}
        self._ended: set[str] = set()
        self._ends_to_repeat: dict[bytes, list[int]] = {}  # topic -> [last seq, repeats left]
        self._presence = Presence()
        self._on_listener = on_listener
        # Events for on_listener, handed over outside the lock by the service thread.
        self._events: deque[ListenerEvent] = deque(maxlen=MAX_PENDING_EVENTS)
        self._watchers: tuple[Callable[[], object], ...] = ()  # see watch()
        self._presence_changed = False  # set under the lock, read by the service thread
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self._beacon_seq = 0
        self._next_beacon = 0.0
        self._next_service = 0.0
        self._log = log.bind(channel=self.channel)
        self._limited = RateLimitedLog(self._log)
        self._desk: zmq.Socket[bytes] | None = None
        self._keep_last = bool(last_value)
        self._desk_clients: dict[str, str] = {}
        self._max_desk_clients = validate_count(max_desk_clients, "max desk clients") or 1

        ctx = context if context is not None else zmq.Context.instance()
        self._context = ctx
        self.security = security
        self._zap_domain: str | None = None
        self._socket: zmq.Socket[bytes] = open_socket(ctx, zmq.XPUB, endpoint)
        try:
            configure(self._socket, self._settings, connecting=not self.bind)
            # Every (un)subscription, not only a topic's first and last: per-listener presence.
            self._socket.setsockopt(zmq.XPUB_VERBOSER, 1)
            if security is not None:
                self._zap_domain = authenticators.register(ctx, security.allow)
                apply_server(self._socket, security, self._zap_domain)  # before bind/connect
            self.endpoint = attach(self._socket, endpoint, bind=self.bind)
            self.advertise = validate_endpoint(advertise) if advertise else self.endpoint
            if desk is not None:
                self._desk = self._open_desk(ctx, validate_endpoint(desk))
            # pyzmq's Cython send, without the Python wrapper that handles group and
            # routing_id (which XPUB never uses): about 4x less overhead per message.
            self._send = partial(zmq.backend.Socket.send, self._socket)
        except BaseException as exc:
            self._socket.close(linger=0)
            if self._desk is not None:
                self._desk.close(linger=0)
            self._release_zap()
            if isinstance(exc, zmq.ZMQError):
                raise setup_error(exc, endpoint) from None
            raise
        interval = (
            SERVICE_INTERVAL_S
            if self.batch_size == 1
            else min(SERVICE_INTERVAL_S, self._batch_delay)
        )
        self._service = ServiceThread(
            self._lock,
            self._service_locked,
            f"radio-pub-{self.channel}",
            interval,
            after=self._after_service,
        )
        self._service.start()
        self._log.info("publisher_started", endpoint=self.endpoint, bind=self.bind)

    def _open_desk(self, ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str) -> zmq.Socket[bytes]:
        """A ROUTER that answers desk requests (served by the service thread)."""
        desk: zmq.Socket[bytes] = open_socket(ctx, zmq.ROUTER, endpoint)
        try:
            # MAX_REQUEST_BYTES: a hostile peer allocates little. No heartbeats: requests are short.
            settings = SocketSettings(DESK_HWM, Heartbeat(None), MAX_REQUEST_BYTES, linger=0.0)
            configure(desk, settings, connecting=False)
            if self.security is not None:
                assert self._zap_domain is not None
                apply_server(desk, self.security, self._zap_domain)
            self.desk = attach(desk, endpoint, bind=True)
        except BaseException:
            desk.close(linger=0)
            raise
        return desk

    def _describe(self) -> str:
        return f"channel={self.channel!r} {'bind' if self.bind else 'connect'} {self.endpoint}"

    # -- sessions ------------------------------------------------------------------

    @property
    def sessions(self) -> tuple[str, ...]:
        """The open sessions, oldest first."""
        return tuple(self._sessions)

    @property
    def live(self) -> str | None:
        """The live session (the newest open one) that followers hear, or None.

        Sessions the desk gave to its clients are theirs alone: never live.
        """
        sessions = self._sessions
        return next((name for name in reversed(sessions) if not sessions[name].private), None)

    def open_session(self, session: str | None = None) -> str:
        """Open *session* (a new unique ID when omitted), make it live, return its ID.

        Followers move to it at once. A session that was closed cannot reopen:
        its subscribers were told it is over.
        """
        session = new_session_id() if session is None else validate_name(session, "session")
        with self._lock:
            self._check_open()
            self._open_locked(session)
        return session

    def _open_locked(self, session: str, private: bool = False) -> None:
        if session in self._ended:
            raise SessionClosedError(f"session {session!r} was closed and cannot reopen")
        if session in self._sessions:
            raise SessionError(f"session {session!r} is already open")
        topic = session_topic(self.channel, session)
        batch = None
        if self.batch_size > 1:
            limit = min(self._max_frame, MAX_MESSAGE_BYTES)
            batch = Batch(topic, self.batch_size, limit, self._batch_delay)
        previous = self.live
        self._sessions[session] = _Session(topic, batch, self._max_frame, private)
        self._send_beacon(_now())  # flushes batches sent under the old live session
        self._relabel(previous)
        self._log.info("session_opened", session=session)

    def close_session(self, session: str) -> None:
        """Announce the end of *session* to its subscribers; later sends on it raise."""
        with self._lock:
            self._check_open()
            self._close_locked(session)

    def _close_locked(self, session: str) -> None:
        state = self._session(session)
        previous = self.live
        del self._sessions[session]
        if not state.private:  # a desk session's random ID cannot come back: not kept
            self._ended.add(session)
        self._send_end(state)
        self._send_beacon(_now())
        self._relabel(previous)
        self._log.info("session_closed", session=session, sent=state.seq)

    # -- the session desk ---------------------------------------------------------------

    def desk_session(self, client: str) -> str | None:
        """The session the desk gave *client* last, while it is open (else None)."""
        with self._lock:
            session = self._desk_clients.get(client)
            return session if session in self._sessions else None

    def _serve_desk(self) -> None:
        """Answer waiting desk requests (under the lock, a bounded number per pass)."""
        desk = self._desk
        if desk is None:
            return
        for _ in range(MAX_REQUESTS_PER_PASS):
            frames: list[bytes] = []
            try:
                while True:  # frame by frame: a request of many frames is cut, not buffered
                    frame = desk.recv(_NOBLOCK)
                    if len(frames) < MAX_ENVELOPE_FRAMES:
                        frames.append(frame)
                    if not desk.getsockopt(zmq.RCVMORE):
                        break
            except zmq.Again:
                return
            if len(frames) < 2:
                continue  # a ROUTER always prepends the peer's identity: nothing to answer
            envelope, request = frames[:-1], frames[-1]
            try:
                client = parse_request(request)
                session = self._desk_join(client)
                answer = desk_reply(
                    ok=True, endpoint=self.advertise, channel=self.channel, session=session
                )
            except DeskError as exc:
                self._limited.warning("desk_request_refused", reason=str(exc))
                answer = desk_reply(ok=False, error=str(exc))
            desk.send_multipart([*envelope, answer], _NOBLOCK)

    def _desk_join(self, client: str) -> str:
        """Close *client*'s previous session, open a fresh one, and return it."""
        previous = self._desk_clients.get(client)
        if previous is None and len(self._desk_clients) >= self._max_desk_clients:
            raise DeskError(f"the desk is full ({self._max_desk_clients} clients)")
        if previous in self._sessions:
            self._close_locked(previous)
        session = new_session_id()
        self._open_locked(session, private=True)
        self._desk_clients[client] = session
        self._log.info("desk_joined", client=client, session=session, previous=previous)
        return session

    def last_seq(self, session: str) -> int:
        """The sequence number of the last message sent on open *session* (0: none yet)."""
        with self._lock:
            self._check_open()
            return self._session(session).seq

    def _session(self, session: str) -> _Session:
        state = self._sessions.get(session)
        if state is not None:
            return state
        if session in self._ended:
            raise SessionClosedError(f"session {session!r} is closed")
        raise UnknownSessionError(f"no open session {session!r} on channel {self.channel!r}")

    # -- sending -------------------------------------------------------------------

    def send(self, session: str, payload: bytes, ttl: float | None = None) -> int:
        """Broadcast *payload* on *session*; return its sequence number (1, 2, ...).

        *ttl* is in seconds: subscribers drop the message once it is older
        (default: no expiry). Never blocks: a subscriber whose queue holds
        ``hwm`` messages misses this one and counts a gap.
        """
        if ttl is None:
            ttl = NO_TTL
        elif not (ttl.__class__ is float and 0.0 < ttl < _INF):
            ttl = validate_seconds(ttl, "ttl")
        if payload.__class__ is not bytes:
            payload = as_payload(payload)
        # `with`, not acquire() then try: a Ctrl-C between those two would leave the
        # lock held for ever (CPython checks for signals right after a call returns).
        with self._lock:
            state = self._sessions.get(session)
            if state is None:
                self._check_open()
                state = self._session(session)  # raises: closed or unknown
            seq = state.seq + 1
            now = _now()
            if len(payload) > state.max_payload:
                raise MessageTooLargeError(
                    f"message of {len(payload)} bytes is over the {self._max_frame}-byte "
                    f"limit on channel {self.channel!r}"
                )
            if state.batch is None:
                self._send(state.prefix + _pack_tail(seq, now, ttl) + payload, _NOBLOCK)
            elif (ready := state.batch.add(seq, now, ttl, payload)) is not None:
                self._send(ready, _NOBLOCK)
            state.seq = seq
            if self._keep_last:
                state.last = (seq, now, ttl, payload, state.prefix[-1])  # with the LIVE flag now
            if now >= self._next_service:
                self._service_locked()
        return seq

    def send_all(self, payload: bytes, ttl: float | None = None) -> int:
        """Broadcast *payload* on every open session (desk clients' too); return how many.

        Each session numbers the message in its own sequence. Never blocks, as `send`.
        """
        sent = 0
        for session in self.sessions:
            try:
                self.send(session, payload, ttl)
            except SessionError:
                continue  # closed meanwhile (the desk closes its clients' sessions)
            sent += 1
        return sent

    # -- presence ------------------------------------------------------------------

    def listeners(self, session: str) -> int:
        """Return how many subscribers are tuned in to *session* now (followers included)."""
        topic = session_topic(self.channel, validate_name(session, "session"))
        with self._lock:
            self._check_open()
            self._service_locked()
            return self._presence.count(topic)

    def channel_listeners(self) -> int:
        """Return how many subscribers are connected to the channel, in any session or none."""
        with self._lock:
            self._check_open()
            self._service_locked()
            return self._presence.count(self._control)

    def wait_for_listener(self, session: str, timeout: float | None = None) -> bool:
        """Wait until at least one subscriber is tuned in to *session*; False on timeout.

        Once this returns True, every message sent on *session* reaches that
        subscriber unless its own queue is full. ``timeout`` None waits for ever.
        """
        topic = session_topic(self.channel, validate_name(session, "session"))
        timeout_s = validate_timeout(timeout)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._changed:
            while True:
                self._check_open()
                self._service_locked()
                if self._presence.count(topic) > 0:
                    return True
                wait = SERVICE_INTERVAL_S
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    wait = min(wait, remaining)
                self._changed.wait(wait)

    def watch(self, callback: Callable[[], object]) -> Callable[[], None]:
        """Call *callback* after presence changes; return a function that stops the calls.

        It runs on radio's service thread, outside the lock (so it may call back
        into the publisher, e.g. `listeners`), at most once a service pass, with no
        argument: ask what changed. Keep it short; it delays the service thread.
        """
        with self._lock:
            self._check_open()
            self._watchers = (*self._watchers, callback)

        def unwatch() -> None:
            with self._lock:
                watchers = list(self._watchers)
                if callback in watchers:
                    watchers.remove(callback)
                    self._watchers = tuple(watchers)

        return unwatch

    # -- servicing (always under the lock) -------------------------------------------

    def _service_locked(self) -> None:
        """Drain subscription events into presence and send a beacon when one is due."""
        now = _now()
        self._next_service = now + SERVICE_INTERVAL_S
        if self._closed:
            return
        beacon_due = now >= self._next_beacon
        changed = False
        for _ in range(MAX_EVENTS_PER_PASS):  # a flood of (un)subscriptions cannot hog the lock
            try:
                event = self._socket.recv(_NOBLOCK)
            except zmq.Again:
                break
            change = self._presence.apply(event)
            if change is None:
                continue
            changed = True
            if change.topic == self._control:
                beacon_due = beacon_due or change.joined  # tell a newcomer what is live
            elif change.topic.startswith(self._prefix):
                session = change.topic[len(self._prefix) : -1].decode("ascii", "replace")
                event_name = "listener_joined" if change.joined else "listener_left"
                self._log.info(event_name, session=session, listeners=change.listeners)
                if self._on_listener is not None:
                    self._events.append(
                        ListenerEvent(session, change.joined, change.listeners, change.at)
                    )
                if change.joined and self._keep_last:
                    self._send_last_value(session, change.topic, change.listener, now)
        if threading.current_thread() is self._service.thread:
            self._serve_desk()  # never from send(): a request must not cost a sender
        if beacon_due:
            self._send_beacon(now)
        elif self.batch_size > 1:
            self._flush_batches(now)
        if changed:
            self._presence_changed = True
            self._changed.notify_all()

    def _after_service(self) -> None:
        """Run the callbacks (service thread, outside the lock): on_listener, then watchers."""
        self._dispatch_events()
        if self._presence_changed:
            self._presence_changed = False  # before the calls: a change during them is kept
            for callback in self._watchers:
                callback()

    def _dispatch_events(self) -> None:
        """Call on_listener for each event (service thread, outside the lock)."""
        callback = self._on_listener
        events = self._events
        while callback is not None and events:
            callback(events.popleft())

    def flush(self) -> None:
        """Send every message waiting in a batch now (batching only; a no-op otherwise)."""
        with self._lock:
            self._check_open()
            self._flush_batches(None)

    def _flush_batches(self, now: float | None) -> None:
        """Send the batches that are due at *now* (every non-empty one when None)."""
        for state in self._sessions.values():
            batch = state.batch
            if batch is not None and (now is None or batch.due(now)):
                frame = batch.flush()
                if frame is not None:
                    self._send(frame, _NOBLOCK)

    def _relabel(self, previous: str | None) -> None:
        """Move the LIVE flag from the *previous* live session to the current one."""
        live = self.live
        if previous == live:
            return
        if previous is not None and previous in self._sessions:
            _label(self._sessions[previous], live=False)
        if live is not None:
            _label(self._sessions[live], live=True)

    def _send_last_value(self, session: str, topic: bytes, listener: bytes, now: float) -> None:
        """Send the session's latest message, if still within its TTL, to *listener* only.

        It goes to the listener's inbox, a topic no one else subscribes to, followed
        by the session's name; a subscriber that heard the session already ignores it.
        """
        state = self._sessions.get(session)
        if state is None or state.last is None:
            return
        if state.batch is not None and (pending := state.batch.flush()) is not None:
            self._send(pending, _NOBLOCK)  # everything before the last value goes first
        seq, sent_at, ttl, payload, kind = state.last
        if ttl and now > sent_at + ttl:
            return  # never an expired one
        head = _PREFIX_TAIL.pack(VERSION, kind) + _pack_tail(seq, sent_at, ttl)
        address = inbox_topic(self.channel, listener) + topic[len(self._prefix) :]
        self._send(address + head + payload, _NOBLOCK)

    def _send_end(self, state: _Session) -> None:
        if state.batch is not None and (frame := state.batch.flush()) is not None:
            self._send(frame, _NOBLOCK)  # the session's last messages go before its END
        self._socket.send(encode(state.topic, Kind.END, state.seq, _now()), _NOBLOCK)
        self._ends_to_repeat[state.topic] = [state.seq, END_REPEATS]

    def _send_beacon(self, now: float) -> None:
        self._flush_batches(None)  # what was sent before a switch arrives before it
        for topic, repeat in list(self._ends_to_repeat.items()):
            self._socket.send(encode(topic, Kind.END, repeat[0], now), _NOBLOCK)
            repeat[1] -= 1
            if not repeat[1]:
                del self._ends_to_repeat[topic]
        self._beacon_seq += 1
        live = (self.live or "").encode("ascii")
        frame = encode(
            self._control, Kind.BEACON, self._beacon_seq, now, live, self._beacon_interval
        )
        self._socket.send(frame, _NOBLOCK)
        self._next_beacon = now + self._beacon_interval

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """End every open session, flush for at most ``linger`` seconds and close the socket."""
        if self._closed:
            return
        self._service.stop()
        with self._lock:
            if self._closed:
                return
            for session in list(self._sessions):
                state = self._sessions.pop(session)
                self._ended.add(session)
                self._send_end(state)
            self._send_beacon(_now())
            self._closed = True
            self._socket.close(linger=self._linger_ms)
            if self._desk is not None:
                self._desk.close(linger=0)
            self._changed.notify_all()
        self._release_zap()
        self._log.info("publisher_closed", endpoint=self.endpoint)
