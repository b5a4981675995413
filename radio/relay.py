"""Relay: XSUB/XPUB forwarding between hosts, by ZeroMQ's proxy or a loop keeping keys apart."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from typing import Final, NamedTuple, Unpack

import zmq

from radio.core.names import is_control_topic
from radio.core.presence import Presence
from radio.core.tally import session_listeners
from radio.logs import RateLimitedLog, get_logger
from radio.owner import SocketOwner
from radio.security import (
    AllowList,
    CurveClient,
    CurveServer,
    apply_client,
    apply_server,
    authenticators,
    handshakes,
    user_id,
)
from radio.settings import (
    SocketOptions,
    check_options,
    message_limit,
    socket_context,
    socket_settings,
    validate_endpoint,
    validate_seconds,
)
from radio.sockets import (
    MAX_SUBSCRIPTION_BYTES,
    READ_FRAMES,
    attach,
    configure,
    open_socket,
    setup_error,
)

log = get_logger()

REPORT_INTERVAL_S: Final[float] = 5.0
"""Default time between two ``relay_stats`` log events."""

SUBSCRIPTION_QUEUE: Final[int] = 1_000_000
"""(Un)subscriptions a relay queues towards its upstream publisher: ten times the
publisher's presence cap, so no honest burst is dropped (the data hwm dropped a
burst of 10,000), while a flood of made-up subscriptions from below costs bounded
memory (about 100 MB at 100 bytes each) instead of growing for ever."""

CAPTURE_HWM: Final[int] = 100_000
"""Messages the statistics reader may lag behind before the capture copy drops some."""

_ids = iter(range(1, 1 << 62))
_NOBLOCK: Final[int] = zmq.NOBLOCK
_NOBLOCK_MORE: Final[int] = zmq.NOBLOCK | zmq.SNDMORE


class RelayCounters(NamedTuple):
    """What a relay counted so far (`Relay.counters`).

    ``messages`` and ``bytes`` forwarded downstream; ``listeners`` behind it by
    (channel, session), session None for the subscribers connected to a channel;
    ``presence_refusals``: presence joins refused at a cap (with a backend
    allow-list: not forwarded upstream); ``curve``: the handshakes its backend
    allow-list admitted and refused (None without CURVE downstream).
    """

    messages: int
    bytes: int
    listeners: dict[tuple[str, str | None], int]
    presence_refusals: int
    curve: tuple[int, int] | None


class Relay(SocketOwner):
    """Forwards messages downstream and subscriptions upstream with ``zmq.proxy``.

    Publishers (or an upstream relay) reach the *frontend*, subscribers (or a
    downstream relay) the *backend*; relays chain into trees. The backend is an
    XPUB with ``XPUB_VERBOSER`` and the frontend an XSUB, so every subscription,
    including each radio subscriber's presence subscription, reaches the
    publisher: it counts listeners behind relays exactly. A connecting side sets
    ``IMMEDIATE`` so that nothing queued for a vanished peer is replayed.
    Subscriptions go upstream through a queue with no high-water mark (the
    frontend's send side carries nothing else), so a burst of them is never
    cut short, whatever ``hwm`` the messages coming down keep. Each
    ``report_interval`` the relay logs ``relay_stats``: messages and bytes
    forwarded (counted from the proxy's capture copy, so approximate under
    overload) and the radio subscribers behind it.

    CURVE works on each hop: ``frontend_security`` makes the relay a client of
    the publisher (or relay) upstream, pinning its key; ``backend_security``
    makes it a server with its own allow-list for the subscribers below. With
    a backend allow-list the relay tells its clients apart by key, and applies
    presence's caps itself before forwarding a presence subscription: each key
    holds at most `radio.core.presence.MAX_LISTENERS_PER_KEY` listeners (a key
    declared a relay in that allow-list, ``*.relay``, only the total cap), so
    the publisher, where this relay is declared, can count everyone behind it
    exactly. It then forwards messages in its own loop rather than
    ``zmq.proxy`` (and counts them exactly).

    The socket keywords (``hwm``, ``heartbeat``, ``heartbeat_timeout``,
    ``max_message_size``: the largest message it forwards, ``connect_timeout``,
    ``reconnect_interval``, ``ipv6``: both sides, ``context``) are
    `radio.settings.SocketOptions`; an endpoint with a bracketed IPv6 literal
    turns IPv6 on by itself for its side.
    """

    def __init__(
        self,
        frontend: str,
        backend: str,
        *,
        frontend_bind: bool = False,
        backend_bind: bool = True,
        report_interval: float = REPORT_INTERVAL_S,
        frontend_security: CurveClient | None = None,
        backend_security: CurveServer | None = None,
        **options: Unpack[SocketOptions],
    ) -> None:
        check_options(options, "Relay")
        validate_endpoint(frontend)
        validate_endpoint(backend)
        front_settings = socket_settings(
            options,
            linger=0.0,  # a relay holds nothing of its own to flush
            max_message_size=message_limit(options),
        )
        # Only subscriptions come into the backend.
        back_settings = dataclasses.replace(front_settings, max_message_size=MAX_SUBSCRIPTION_BYTES)
        self.hwm = front_settings.hwm
        self._report_interval = validate_seconds(report_interval, "report interval")
        ctx = socket_context(options)
        self._context = ctx
        self._zap_domain: str | None = None
        self._allow: AllowList | None = None  # keys told apart: presence shares applied here
        name = f"radio-relay-{next(_ids)}"
        where = f"{frontend} -> {backend}"
        sockets: list[zmq.Socket[bytes]] = []
        try:
            for kind in (zmq.XSUB, zmq.XPUB, zmq.PUB, zmq.SUB, zmq.PAIR, zmq.PAIR):
                sockets.append(open_socket(ctx, kind, where))
        except BaseException:
            for sock in sockets:
                sock.close(linger=0)
            raise
        self._front, self._back, capture, self._capture_reader = sockets[:4]
        self._control, control_peer = sockets[4:]
        try:
            configure(self._front, front_settings, connecting=not frontend_bind)
            # Only subscriptions go up, and libzmq drops one that finds the queue full
            # (dist_t, and xsub_t::send_subscription on a reconnect): a bound far above
            # any honest burst (`SUBSCRIPTION_QUEUE`), not the data hwm.
            self._front.setsockopt(zmq.SNDHWM, SUBSCRIPTION_QUEUE)
            configure(self._back, back_settings, connecting=not backend_bind)
            # Every (un)subscription, so that the publisher counts each listener behind us.
            self._back.setsockopt(zmq.XPUB_VERBOSER, 1)
            if frontend_security is not None:  # a CURVE client of the publisher upstream
                apply_client(self._front, frontend_security)
            if backend_security is not None:  # a CURVE server to the subscribers below
                self._zap_domain = authenticators.register(ctx, backend_security.allow)
                apply_server(self._back, backend_security, self._zap_domain)
                self._allow = authenticators.allow_list(self._zap_domain)
            capture.setsockopt(zmq.SNDHWM, CAPTURE_HWM)
            self._capture_reader.setsockopt(zmq.RCVHWM, CAPTURE_HWM)
            self._capture_reader.subscribe(b"")
            capture.bind(f"inproc://{name}-capture")
            self._capture_reader.connect(f"inproc://{name}-capture")
            control_peer.bind(f"inproc://{name}-control")
            self._control.connect(f"inproc://{name}-control")
            self.frontend = attach(self._front, frontend, bind=frontend_bind)
            self.backend = attach(self._back, backend, bind=backend_bind)
        except BaseException as exc:
            for sock in sockets:
                sock.close(linger=0)
            self._release_zap()
            if isinstance(exc, zmq.ZMQError):
                raise setup_error(exc, where) from None
            raise
        self.messages = 0
        self.bytes = 0
        self._presence = Presence()
        self._log = log.bind(frontend=self.frontend, backend=self.backend)
        self._limited = RateLimitedLog(self._log)
        self._proxy = threading.Thread(
            target=self._run_proxy, args=(capture, control_peer), name=name, daemon=True
        )
        self._stats = threading.Thread(target=self._run_stats, name=f"{name}-stats", daemon=True)
        self._proxy.start()
        self._stats.start()
        self._log.info("relay_started")

    def _describe(self) -> str:
        return f"{self.frontend} -> {self.backend}"

    @property
    def subscribers(self) -> int:
        """Radio subscribers behind this relay now (their channel presence subscriptions)."""
        topics = self._presence.topics()  # a copy: the stats thread goes on changing it
        return sum(n for topic, n in topics.items() if is_control_topic(topic))

    def counters(self) -> RelayCounters:
        """What this relay counted so far, as one snapshot (`radio.serve_metrics`)."""
        return RelayCounters(
            self.messages,
            self.bytes,
            session_listeners(self._presence.topics()),  # a copy, safe from any thread
            self._presence.refused,
            handshakes(self._allow),
        )

    def _run_proxy(self, capture: zmq.Socket[bytes], control: zmq.Socket[bytes]) -> None:
        try:
            if self._allow is None:
                zmq.proxy_steerable(self._front, self._back, capture, control)
            else:
                self._run_keyed(control)
        except zmq.ZMQError as exc:  # the context was terminated under us
            self._log.warning("relay_stopped", error=str(exc))
            self._control.close(linger=0)  # nobody will send TERMINATE now
        finally:
            for sock in (self._front, self._back, capture, control):
                sock.close(linger=0)

    def _run_keyed(self, control: zmq.Socket[bytes]) -> None:
        """Forward as ``zmq.proxy`` does, with each client key's presence share applied."""
        poller = zmq.Poller()
        for sock in (self._front, self._back, control):
            poller.register(sock, zmq.POLLIN)
        while True:
            ready = dict(poller.poll())
            if control in ready:
                control.recv()
                return  # TERMINATE: nothing else is ever sent on it
            if self._front in ready:
                self._forward_down()
            if self._back in ready:
                self._forward_up()

    def _forward_down(self) -> None:
        """Forward up to `READ_FRAMES` messages from the frontend to the backend, whole."""
        front, back = self._front, self._back
        for _ in range(READ_FRAMES):
            try:
                frame = front.recv(_NOBLOCK, copy=False)
            except zmq.Again:
                return
            size = len(frame)
            while frame.more:  # the parts of a message arrive together
                back.send(frame, _NOBLOCK_MORE, copy=False)
                frame = front.recv(_NOBLOCK, copy=False)
                size += len(frame)
            back.send(frame, _NOBLOCK, copy=False)
            self.messages += 1
            self.bytes += size

    def _forward_up(self) -> None:
        """Forward up to `READ_FRAMES` events from the backend, presence shares applied."""
        front, back, presence = self._front, self._back, self._presence
        if self._allow is not None:  # keys declared relays in the allow-list, as read last
            presence.relays = self._allow.relays
        for _ in range(READ_FRAMES):
            try:
                frame = back.recv(_NOBLOCK, copy=False)
            except zmq.Again:
                return
            if frame.more:  # not a subscription: forwarded as it is, like zmq.proxy does
                while frame.more:
                    front.send(frame, _NOBLOCK_MORE, copy=False)
                    frame = back.recv(_NOBLOCK, copy=False)
                front.send(frame, _NOBLOCK, copy=False)
                continue
            refused = presence.refused
            for event in presence.forward(frame.bytes, user_id(frame)):
                front.send(event, _NOBLOCK)
            if presence.refused != refused:
                self._limited.warning(
                    "listeners_refused",
                    refused=presence.refused,
                    max_per_key=presence.max_per_key,
                    max_listeners=presence.max_listeners,
                )

    def _run_stats(self) -> None:
        reader = self._capture_reader
        try:
            self._count(reader)
        except zmq.ZMQError:  # the context was terminated under us: stop quietly
            pass
        finally:
            reader.close(linger=0)

    def _count(self, reader: zmq.Socket[bytes]) -> None:
        next_report = time.monotonic() + self._report_interval
        last_messages = 0
        while not self._closed and self._proxy.is_alive():
            if reader.poll(100):
                while True:
                    try:
                        frame = reader.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    size = len(frame)
                    parts = 1
                    while reader.get(zmq.RCVMORE):  # a two-part message: one, of both sizes
                        size += len(reader.recv(zmq.NOBLOCK))  # its parts came together
                        parts += 1
                    if parts == 1 and frame[:1] in (b"\x00", b"\x01"):  # a subscription
                        self._presence.apply(frame)
                    else:
                        self.messages += 1
                        self.bytes += size
            now = time.monotonic()
            if now >= next_report:
                rate = (self.messages - last_messages) / self._report_interval
                last_messages = self.messages
                next_report = now + self._report_interval
                self._log.info(
                    "relay_stats",
                    messages=self.messages,
                    bytes=self.bytes,
                    rate=round(rate, 1),
                    subscribers=self.subscribers,
                )

    def close(self) -> None:
        """Stop forwarding and close every socket."""
        if self._closed:
            return
        if self._proxy.is_alive():
            with contextlib.suppress(zmq.ZMQError):
                self._control.send(b"TERMINATE")
        self._proxy.join()
        self._control.close(linger=0)
        self._closed = True
        self._stats.join()
        self._release_zap()
        self._log.info("relay_closed", messages=self.messages)
