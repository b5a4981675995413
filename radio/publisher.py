"""The Publisher: broadcasts session-keyed messages on an XPUB socket and tracks listeners."""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, Final, Unpack

import zmq

from radio.core.batch import BATCH_DELAY_S
from radio.core.desk import MAX_DESK_CLIENTS, MAX_DESK_CLIENTS_PER_KEY
from radio.core.names import new_session_id, validate_name
from radio.core.presence import ListenerEvent
from radio.core.session import SessionState
from radio.core.tally import Tally, tally
from radio.core.transmitter import BEACON_INTERVAL_S, Transmitter
from radio.core.wire import NO_TTL, PART_THRESHOLD, pack_tail
from radio.desk import DeskServer, check_advertised
from radio.errors import SessionError
from radio.hot import MODULE as HOT
from radio.logs import get_logger
from radio.outbox import Item, Outbox
from radio.owner import SocketOwner
from radio.security import AllowList, CurveServer, apply_server, authenticators, handshakes
from radio.service import (
    BUSY_PAUSE_S,
    SERVICE_INTERVAL_S,
    ServiceThread,
)
from radio.servicing import Servicing
from radio.settings import (
    DEFAULT_LINGER_S,
    SocketOptions,
    check_options,
    message_limit,
    next_wait,
    socket_context,
    socket_settings,
    to_ms,
    validate_batch_size,
    validate_beacon_interval,
    validate_count,
    validate_endpoint,
    validate_seconds,
    validate_timeout,
    validate_ttl,
)
from radio.sockets import (
    MAX_SUBSCRIPTION_BYTES,
    as_payload,
    attach,
    configure,
    fast_send,
    open_socket,
    setup_error,
)

log = get_logger()

MAX_EVENTS_PER_SEND: Final[int] = 8
"""Most subscription events such a send handles itself: the service thread reads the
rest, so that a flood of them costs a sender little."""

WIRE_LEFT_S: Final[float] = 1.0
"""How long `Publisher.close` waits for the socket's lock before it takes it as left."""

MAX_WARNED_SESSIONS: Final[int] = 16
"""Most names `wait_for_listener` warns about as not open (once each), and names listed."""

_INF: Final[float] = float("inf")
_now = time.monotonic  # every stamp and schedule: the wall clock only for beacons (core)
_PART_THRESHOLD: Final[int] = PART_THRESHOLD
_pack_tail = pack_tail
_NOBLOCK: Final[int] = zmq.NOBLOCK


class Publisher(Servicing, SocketOwner):
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
    (``advertise``, default the publisher's own endpoint). It keeps at most
    ``max_desk_clients`` clients, at most ``max_desk_clients_per_key`` (and half
    the desk) for one peer: its CURVE key, or its connection without CURVE.

    ``audience=False`` stops the AUDIENCE frames it sends with each scheduled
    beacon on the channel's audience topic: its listener counts per session, for
    observers such as ``radio-top`` (no radio subscriber receives them).

    ``last_value=True`` hands a subscriber that tunes in late the session's latest
    message at once, if it is still within its TTL, and to that subscriber only.

    ``on_listener`` is called with a `ListenerEvent` each time a subscriber tunes
    in to or out of a session (from radio's service thread, never under a lock).

    ``batch_size`` > 1 turns batching on: up to that many messages of a session
    travel in one frame, none waiting longer than ``batch_delay`` seconds. It
    trades a little latency for much higher throughput; subscribers need no setting.

    The socket keywords (``hwm``, ``heartbeat``, ``heartbeat_timeout``,
    ``max_message_size``: the largest message it sends, ``connect_timeout``,
    ``reconnect_interval``, ``ipv6``, ``context``) are `radio.settings.SocketOptions`.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        channel: str = "radio",
        bind: bool = True,
        beacon_interval: float = BEACON_INTERVAL_S,
        linger: float = DEFAULT_LINGER_S,
        batch_size: int = 1,
        batch_delay: float = BATCH_DELAY_S,
        on_listener: Callable[[ListenerEvent], object] | None = None,
        security: CurveServer | None = None,
        desk: str | None = None,
        advertise: str | None = None,
        last_value: bool = False,
        max_desk_clients: int = MAX_DESK_CLIENTS,
        max_desk_clients_per_key: int = MAX_DESK_CLIENTS_PER_KEY,
        audience: bool = True,
        **options: Unpack[SocketOptions],
    ) -> None:
        check_options(options, "Publisher")
        self.channel = validate_name(channel, "channel")
        self.batch_size = validate_batch_size(batch_size)
        batch_delay = validate_seconds(batch_delay, "batch delay")
        self.bind = bool(bind)
        # Only subscriptions come in: MAX_SUBSCRIPTION_BYTES bounds what a peer makes us hold.
        self._settings = socket_settings(
            options, linger=linger, max_message_size=MAX_SUBSCRIPTION_BYTES
        )
        self.hwm = self._settings.hwm
        self._linger_ms = to_ms(self._settings.linger)
        max_frame = message_limit(options)
        validate_endpoint(endpoint)
        self._core = Transmitter(
            self.channel,
            max_frame=sys.maxsize if max_frame is None else max_frame,
            batch_size=self.batch_size,
            batch_delay=batch_delay,
            beacon_interval=validate_beacon_interval(beacon_interval),
            keep_last=bool(last_value),
            max_desk_clients=validate_count(max_desk_clients, "max desk clients"),
            max_desk_clients_per_key=validate_count(
                max_desk_clients_per_key, "max desk clients per key"
            ),
            audience=bool(audience),
        )
        self._sessions = self._core.sessions  # the hot path reads the core's table
        self._on_listener = on_listener
        self._watchers: tuple[Callable[[], object], ...] = ()  # see watch()
        self._events: deque[tuple[bytes, bytes]] = deque()  # read, not yet heard: servicing
        self._warned: set[str] = set()  # sessions named while not open: see wait_for_listener
        self._presence_changed = False  # set under the lock, read by the service thread
        # Two locks (`radio.outbox.Outbox`): the state's (the core) and the socket's, so that
        # a send never waits for the service thread's socket call. radio._hot's when built:
        # the C hot path takes them with no Python call.
        self._lock: threading.Lock = threading.Lock() if HOT is None else HOT.Lock()
        self._wire: threading.Lock = threading.Lock() if HOT is None else HOT.Lock()
        self._changed = threading.Condition(self._lock)
        self._closed = False
        self._next_service = 0.0
        self._log = log.bind(channel=self.channel)
        self._desk: DeskServer | None = None

        self._context = ctx = socket_context(options)
        self.security = security
        self._zap_domain: str | None = None
        self._allow: AllowList | None = None  # its relays hold no per-key share of presence
        self._socket: zmq.Socket[bytes] = open_socket(ctx, zmq.XPUB, endpoint)
        try:
            configure(self._socket, self._settings, connecting=not self.bind)
            # Every (un)subscription, not only a topic's first and last: per-listener presence.
            self._socket.setsockopt(zmq.XPUB_VERBOSER, 1)
            if self.batch_size > 1 and self.hwm:
                # A frame holds up to batch_size messages: hwm counts messages, not frames.
                self._socket.setsockopt(zmq.SNDHWM, max(1, -(-self.hwm // self.batch_size)))
            if security is not None:
                self._zap_domain = authenticators.register(ctx, security.allow)
                apply_server(self._socket, security, self._zap_domain)  # before bind/connect
                self._allow = authenticators.allow_list(self._zap_domain)
            self.endpoint = attach(self._socket, endpoint, bind=self.bind)
            self.advertise = validate_endpoint(advertise) if advertise else self.endpoint
            if desk is not None:
                check_advertised(self.advertise, given=advertise is not None)
                self._desk = DeskServer(
                    ctx, validate_endpoint(desk), self.advertise, security, self._zap_domain
                )
                self.desk = self._desk.endpoint
            self._send = fast_send(self._socket)
            self._send_service = partial(self._service_locked, MAX_EVENTS_PER_SEND)
            self._hot: Any = None  # radio._hot's Socket, when the hot loops are in C
            self._sender: Any = None
            if HOT is not None:
                self._hot = HOT.Socket(self._socket)
            self._outbox = Outbox(
                self._lock,
                self._wire,
                self._send,
                self.hwm,
                None if self._hot is None else self._hot.send_bytes,
            )
            if HOT is not None:
                self._core.batch_type = HOT.Batch  # batches built in C, frame for frame
                # The common case in C; what it does not take goes to the methods below.
                self._sender = HOT.Sender(
                    self._hot,
                    self._lock,
                    self._wire,
                    self._outbox.pending,
                    self._sessions,
                    partial(Publisher.send, self),
                    partial(Publisher.send_many, self),
                )
                # The C calls shadow the methods only where they are this class's own: a
                # subclass (or a test) that overrides one keeps it.
                if type(self).send is _PYTHON_SEND:
                    self.send = self._sender.send  # type: ignore[method-assign]
                if type(self).send_many is _PYTHON_SEND_MANY:
                    self.send_many = self._sender.send_many  # type: ignore[method-assign]
        except BaseException as exc:
            self._socket.close(linger=0)
            if self._desk is not None:
                self._desk.close()
            self._release_zap()
            if isinstance(exc, zmq.ZMQError):
                raise setup_error(exc, endpoint) from None
            raise
        self._service = ServiceThread(
            self._wire,
            self._service_pass,
            f"radio-pub-{self.channel}",
            min(SERVICE_INTERVAL_S, batch_delay) if self.batch_size > 1 else SERVICE_INTERVAL_S,
            after=self._after_service,
            # Desk requests: the service thread alone answers them, never a sender.
            own=None if self._desk is None else partial(self._desk.serve, self._answer_desk),
            release=self._outbox.let_go,
            busy_pause=BUSY_PAUSE_S,  # a sender waiting for the lock gets it between passes
        )
        self._service.start()
        self._log.info("publisher_started", endpoint=self.endpoint, bind=self.bind)

    def _describe(self) -> str:
        return f"channel={self.channel!r} {'bind' if self.bind else 'connect'} {self.endpoint}"

    # -- sessions ------------------------------------------------------------------

    @property
    def sessions(self) -> tuple[str, ...]:
        """The open sessions, oldest first."""
        with self._lock:
            return tuple(self._sessions)

    @property
    def live(self) -> str | None:
        """The live session (the newest open one) that followers hear, or None.

        Sessions the desk gave to its clients are theirs alone: never live.
        """
        return self._core.live  # one attribute, set under the lock: safe to read

    def open_session(self, session: str | None = None) -> str:
        """Open *session* (a new unique ID when omitted), make it live, return its ID.

        Followers move to it at once. A session that was closed cannot reopen:
        its subscribers were told it is over.
        """
        named = session is not None
        session = validate_name(session, "session") if named else new_session_id()
        with self._lock:
            self._check_open()
            # A random ID never comes back: only a named session is remembered once closed.
            self._outbox.put(self._core.open(session, remembered=named))
        return session

    def close_session(self, session: str) -> None:
        """Announce the end of *session* to its subscribers; later sends on it raise."""
        with self._lock:
            self._check_open()
            self._outbox.put(self._core.close(session))

    def last_seq(self, session: str) -> int:
        """The sequence number of the last message sent on open *session* (0: none yet)."""
        with self._lock:
            self._check_open()
            return self._core.session(session).seq

    def desk_session(self, client: str) -> str | None:
        """The session the desk gave *client* last, while it is open (else None)."""
        with self._lock:
            return self._core.desk_session(client)

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
            ttl = validate_ttl(ttl)
        if payload.__class__ is not bytes:
            payload = as_payload(payload)
        # `with`, not acquire() then try: a Ctrl-C between those two would leave the
        # lock held for ever (CPython checks for signals right after a call returns).
        with self._lock:
            state = self._sessions.get(session)  # _open_state, inlined
            if state is None:
                state = self._open_state(session)
            now = _now()
            if (  # a pure build's common case: `SessionState.frame`'s first branch, then
                self._hot is None  # `Outbox.put`'s, inlined (built: C's, `Sender`)
                and len(payload) < state.small_below
                and now < self._next_service
                and not self._outbox.pending
                and self._wire.acquire(False)
            ):
                seq = state.seq = state.seq + 1
                try:
                    self._send(state.prefix + _pack_tail(seq, now, ttl) + payload, _NOBLOCK)
                finally:
                    self._wire.release()
                return seq
            frame = state.frame(payload, ttl, now)  # None: it waits in a batch
            item: Item = frame  # type: ignore[assignment]  # None: nothing
            if frame is not None and len(payload) >= _PART_THRESHOLD and state.parted(payload):
                item = (frame, payload)
            # The socket's lock, tried for, never waited for (`radio.outbox`): the frame is
            # sent now, or left to the thread in the socket to send before it lets go.
            self._outbox.put(
                () if frame is None else (item,),
                data=True,
                then=self._send_service if now >= self._next_service else None,
            )
            return state.seq

    def send_many(self, session: str, payloads: Iterable[bytes], ttl: float | None = None) -> int:
        """Broadcast each of *payloads* on *session*, in order: the throughput call.

        It takes the lock and reads the clock once for them all, so they share one
        send time, and frames them in one loop: on a session that neither batches
        nor keeps its last value, as BATCH frames of up to 256 (they wait for
        nothing, and a subscriber takes each frame whole). Returns the sequence
        number of the last one (`last_seq` when *payloads* is empty). Every payload is checked
        before any is sent: one that is not bytes-like or too large raises and
        nothing is sent. Never blocks, as `send`; a list of a few hundred at a time
        keeps the latency of the first one low.
        """
        ttl = NO_TTL if ttl is None else validate_ttl(ttl)
        items = [p if p.__class__ is bytes else as_payload(p) for p in payloads]
        with self._lock:
            state = self._open_state(session)
            now = _now()
            out: list[Item] = state.messages(items, ttl, now)
            due = now >= self._next_service
            self._outbox.put(out, data=True, then=self._send_service if due else None)
            return state.seq

    def _open_state(self, session: str) -> SessionState:
        """Open *session*'s state (under the lock); raises if closed or unknown."""
        state = self._sessions.get(session)
        if state is None:
            self._check_open()
            state = self._core.session(session)  # raises: closed or unknown
        return state

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

    def flush(self) -> None:
        """Send every message waiting in a batch now (batching only; a no-op otherwise)."""
        with self._lock:
            self._check_open()
            self._outbox.put(self._core.flush())

    # -- presence ------------------------------------------------------------------

    def listeners(self, session: str) -> int:
        """Return how many subscribers are tuned in to *session* now (followers included)."""
        validate_name(session, "session")
        core = self._serviced()
        with self._lock:
            return core.listeners(session)

    def listener_keys(self, session: str) -> dict[str, int]:
        """How many subscribers tuned in to *session* each authenticated key has.

        Keys are CURVE public keys in Z85 text (``""`` without CURVE, or the
        relay's key for subscribers behind a relay): presence is bound to the key
        that authenticated it, so no peer adds or removes another key's listener.
        """
        validate_name(session, "session")
        core = self._serviced()
        with self._lock:
            return core.listener_keys(session)

    def channel_listeners(self) -> int:
        """Return how many subscribers are connected to the channel, in any session or none."""
        core = self._serviced()
        with self._lock:
            return core.channel_listeners()

    def counters(self) -> Tally:
        """What this publisher counted so far, as one snapshot (`radio.serve_metrics`).

        Listeners as the service thread last heard them (it does not service the socket).
        """
        curve = handshakes(self._allow)
        with self._lock:
            return tally(self._core, self._outbox.dropped, curve)

    def _serviced(self) -> Transmitter:
        """The core, after a service pass made now: presence as it is (no lock held).

        As the service thread's: the socket's lock to read, then the state's to hear.
        """
        self._check_open()
        try:
            with self._wire:
                self._service_pass()
        finally:
            self._outbox.recheck()  # what a sender left as the socket's lock went
        self._service_decide()
        return self._core

    def wait_for_listener(
        self, session: str, timeout: float | None = None, *, count: int = 1
    ) -> bool:
        """Wait until *count* subscribers are tuned in to *session*; False on timeout.

        Once this returns True, every message sent on *session* reaches those
        subscribers unless their own queue is full. ``timeout`` None waits for ever.
        A *session* not open on this publisher (a typo?) is waited for all the
        same (subscribers may tune in first), and logged once as a
        ``session_not_open`` warning naming the open ones.
        """
        validate_name(session, "session")
        if session not in self._sessions:
            self._warn_not_open(session)
        count = validate_count(count, "listener count") or 1
        timeout_s = validate_timeout(timeout)
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            core = self._serviced()
            with self._lock:
                if core.listeners(session) >= count:
                    return True
            wait = next_wait(deadline, time.monotonic(), SERVICE_INTERVAL_S)
            if wait is None:
                return False
            with self._changed:  # the state's lock only: the service thread works meanwhile
                if self._core.listeners(session) < count:
                    self._changed.wait(wait)

    def _warn_not_open(self, session: str) -> None:
        """Log once that *session* is not open here: a mistyped name waits in silence else."""
        if session in self._warned or len(self._warned) >= MAX_WARNED_SESSIONS:
            return
        self._warned.add(session)
        self._log.warning(
            "session_not_open",
            session=session,
            open=list(self.sessions[:MAX_WARNED_SESSIONS]),
            hint="waiting all the same: subscribers may tune in before it opens",
        )

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

    def close(self) -> None:
        """End every open session, flush for at most ``linger`` seconds and close the socket."""
        if self._closed:
            return
        self._service.stop()
        # The socket's lock is held only for calls that never wait. Still taken after
        # WIRE_LEFT_S, it was left taken: a pure build's send interrupted (Ctrl-C) right
        # as it took it (see `radio.outbox`). The close must not hang on it for ever.
        if not self._wire.acquire(timeout=WIRE_LEFT_S):
            self._log.warning("socket_lock_left_taken", waited=WIRE_LEFT_S)
        try:
            with self._lock:
                if self._closed:
                    return
                self._last_words()
                self._closed = True
                if self._hot is not None:
                    self._hot.detach()
                self._socket.close(linger=self._linger_ms)
                if self._desk is not None:
                    self._desk.close()
                self._changed.notify_all()
        finally:
            self._wire.release()
        self._release_zap()
        self._log.info("publisher_closed", endpoint=self.endpoint)


_PYTHON_SEND: Final = Publisher.send
_PYTHON_SEND_MANY: Final = Publisher.send_many
