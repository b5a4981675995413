"""The publisher's servicing of its socket: subscription events heard, what falls due sent."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

import zmq

from radio.core.presence import ListenerEvent
from radio.core.transmitter import Transmitter
from radio.outbox import Outbox
from radio.security import AllowList, CurveServer
from radio.service import MAX_EVENTS_PER_PASS, SERVICE_INTERVAL_S, read_events
from radio.settings import SocketSettings

CLOSE_RETRY_S: Final[float] = 0.05
"""How often closing sends the ENDs again while a listener may not have them."""

SEND_SERVICE_AFTER_S: Final[float] = 2 * SERVICE_INTERVAL_S
"""A `Publisher.send` services the socket itself only when no pass ran for this long
(the service thread is late: say the application keeps the lock busy)."""

_now = time.monotonic


class Servicing:
    """What `radio.publisher.Publisher` does with its socket besides sending messages.

    Reading subscription events is a socket call (the socket's lock); hearing them
    is the core's (the state lock). They are two steps, joined by ``_events`` (read
    in order by whoever holds the socket, heard in order by whoever holds the
    state), so that the service thread never holds the socket while it waits for
    the state: a sender looping on `send` takes the state again and again, and
    would keep the socket from everyone while the service thread waited.
    """

    _core: Transmitter
    _lock: threading.Lock
    _changed: threading.Condition
    _socket: zmq.Socket[bytes]
    _outbox: Outbox
    _events: deque[tuple[bytes, bytes]]
    _allow: AllowList | None
    _sender: Any
    _settings: SocketSettings
    _on_listener: Callable[[ListenerEvent], object] | None
    _watchers: tuple[Callable[[], object], ...]
    _presence_changed: bool
    _next_service: float
    _closed: bool
    security: CurveServer | None

    def _emit(self, frames: list[bytes]) -> None:
        """Send what waits, then the core's frames, in order, never blocking (both locks held)."""
        self._outbox.emit(frames)

    def _service_locked(self, limit: int = MAX_EVENTS_PER_PASS) -> bool:
        """Read up to *limit* subscription events, hear them, send what is due (both held).

        Returns whether it stopped at a bound with events maybe left.
        """
        if self._closed:
            return False
        busy = self._read_events(limit)
        self._decide(self._emit)  # hears what was read, then ticks
        return busy

    def _service_pass(self) -> bool:
        """The service thread's turn with the socket (its lock held, not the state's).

        It reads subscription events and sends what senders left; the core hears
        them in `_service_decide`, after the socket is let go.
        """
        if self._closed:
            return False
        self._outbox.emit(())
        return self._read_events(MAX_EVENTS_PER_PASS)

    def _read_events(self, limit: int) -> bool:
        """Read up to *limit* subscription events into ``_events`` (the socket's lock held)."""
        return read_events(self._socket, self._events, curve=self.security is not None, limit=limit)

    def _service_decide(self) -> None:
        """Hear the events read and send what is due (no lock held: takes the state's)."""
        with self._lock:
            if not self._closed:
                self._decide(self._outbox.put)

    def _decide(self, send: Callable[[list[bytes]], object]) -> None:
        """Hear the events read, in order, and tick; *send* the frames due (state held)."""
        now = self._pass_begins()
        self._hear_events(now, send)
        if frames := self._core.tick(now):
            send(frames)
        if audience := self._core.take_audience(now):
            send(audience)  # after its beacon, for observers (radio-top)
        self._note_presence()

    def _hear_events(self, now: float, send: Callable[[list[bytes]], object] | None) -> None:
        """Hand the events read to the core, in order; *send* what they make due (state held)."""
        core, events = self._core, self._events
        if self._allow is not None:  # relays declared in the allow-list, as read last
            core.presence.relays = self._allow.relays
        while events:
            event, key = events.popleft()
            frames = core.hear(event, now, key)
            if send is not None and frames:
                send(frames)

    def _answer_desk(self, body: bytes, advertise: str, owner: bytes) -> bytes:
        """The core's reply to a desk request; the frames it makes due go out first."""
        with self._lock:
            reply, frames = self._core.answer_desk(body, advertise, owner)
            self._outbox.put(frames)
            return reply

    def _pass_begins(self) -> float:
        """The time of a service pass beginning; the next is due after it (state held)."""
        now = _now()
        self._next_service = now + SEND_SERVICE_AFTER_S
        if self._sender is not None:
            self._sender.next_service = self._next_service
        return now

    def _note_presence(self) -> None:
        """Wake `wait_for_listener` and the watchers if presence changed (state held)."""
        if self._core.take_presence_changed():
            self._presence_changed = True
            self._changed.notify_all()

    def _drain_events(
        self, now: float, *, emit: bool = True, limit: int = MAX_EVENTS_PER_PASS
    ) -> bool:
        """Read up to *limit* subscription events and hear them (both locks held).

        Sends what they make due unless not *emit*; True: stopped at a bound.
        """
        busy = self._read_events(limit)
        self._hear_events(now, self._emit if emit else None)
        return busy

    def _after_service(self) -> None:
        """Hear what the pass read, then run the callbacks: on_listener, then watchers.

        On the service thread, after the socket's lock is let go; the callbacks
        outside any lock.
        """
        self._service_decide()
        on_listener, events = self._on_listener, self._core.events
        while on_listener is not None and events:
            on_listener(events.popleft())
        if self._presence_changed:
            self._presence_changed = False  # before the calls: a change during them is kept
            for watcher in self._watchers:
                watcher()

    def _last_words(self) -> None:
        """End every session and sign off, repeating it while a listener may lack it.

        A subscriber whose queue is full when the END is sent loses it (PUB/SUB
        drops for that subscriber alone, and libzmq reports nothing). So the ENDs
        and the signing-off beacon go again every `CLOSE_RETRY_S` until every
        listener of the closed sessions has left them (a subscriber that reads its
        END tunes out at once) or ``linger`` has passed. Every wait, reading
        subscription events included, stops at that deadline: a peer churning
        subscriptions faster than they are read cannot hold the close.
        """
        core = self._core
        closing = list(core.sessions)
        self._emit(core.close_all())
        deadline = time.monotonic() + self._settings.linger
        while closing and (left := deadline - time.monotonic()) > 0:
            while self._drain_events(_now(), emit=False) and time.monotonic() < deadline:
                pass
            if not any(core.listeners(session) for session in closing):
                return
            time.sleep(min(CLOSE_RETRY_S, left))  # sync-ok: giving a full queue time to drain
            self._emit(core.last_words())
