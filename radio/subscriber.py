"""The Subscriber: tunes in to sessions on a SUB socket and yields only what it may hear."""

from __future__ import annotations

import contextlib
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, Final, Unpack, cast

import zmq

from radio.core.names import is_marker, validate_name
from radio.core.ready import CHUNK, ReadyQueue
from radio.core.tuner import OFF_AIR_AFTER_BEACONS, Tuner
from radio.desk import REQUEST_TIMEOUT_S, ask
from radio.errors import ClosedError
from radio.hot import MODULE as HOT
from radio.logs import get_logger
from radio.message import Loss, Message, Stats
from radio.owner import SocketOwner
from radio.security import CurveClient
from radio.service import BUSY_PAUSE_S, IDLE_INTERVAL_S, SERVICE_INTERVAL_S, ServiceThread
from radio.settings import (
    JoinSettings,
    SocketOptions,
    check_options,
    to_ms,
    validate_count,
    validate_endpoint,
    validate_max_count,
    validate_seconds,
    validate_timeout,
)
from radio.sockets import (
    CLOSE_LINGER_S,
    attach,
    open_sub,
    read_messages,
    setting_up,
    sub_settings,
)

log = get_logger()


POLL_SLICE_S: Final[float] = 0.05
"""Longest a waiting `recv` holds the lock at a time (other threads may retune between)."""

SERVICE_READS: Final[int] = 16
"""Reads (of up to `READ_FRAMES` frames) one turn of the service thread makes at most."""

_INF: Final[float] = float("inf")
_monotonic = time.monotonic


class Subscriber(SocketOwner):
    """Hears the sessions it is tuned in to on a channel, and nothing else.

    The subscriber connects by default (``bind=True`` binds). It never yields a
    message of a session it is not tuned in to, nor one older than its TTL; it
    counts what it drops in `stats`. A background thread services the socket so
    that the publisher sees a tune-in while the application is busy, and reads
    everything that arrives, so that a follower moves to a new session on time
    and libzmq's own queue never fills: ``hwm`` bounds the messages decoded and
    not yet read, and one that arrives beyond it is dropped and counted as a gap
    (libzmq 4.3.5 aborts the process when a connection ends while a SUB's queue
    is full and its reading stopped).

    ``security`` (a `CurveClient`) encrypts the connection and pins the
    publisher's public key: a publisher without the matching secret key is not heard.

    The socket keywords (``hwm``, ``heartbeat``, ``heartbeat_timeout``,
    ``max_message_size``: the largest message it accepts, ``connect_timeout``,
    ``reconnect_interval``, ``ipv6``, ``context``) are `radio.settings.SocketOptions`.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        channel: str = "radio",
        bind: bool = False,
        conflate: bool = False,
        off_air_after: int = OFF_AIR_AFTER_BEACONS,
        security: CurveClient | None = None,
        **options: Unpack[SocketOptions],
    ) -> None:
        check_options(options, "Subscriber")
        self.channel = validate_name(channel, "channel")
        self.off_air_after = validate_count(off_air_after, "off-air beacons") or 1
        self.bind = bool(bind)
        self.conflate = bool(conflate)
        max_message_size, settings = sub_settings(options)
        self.hwm = settings.hwm
        validate_endpoint(endpoint)
        self._id = secrets.token_hex(8).encode("ascii")  # names this subscriber to presence
        self._tuner = Tuner(
            self.channel,
            listener_id=self._id,
            off_air_after=self.off_air_after,
            max_message_size=max_message_size,
        )
        self._lock = threading.Lock()
        self._closed = False
        self.unread = 0
        """Messages decoded but never yielded because the subscriber closed (set by `close`)."""
        self._subscribed: frozenset[bytes] = frozenset()
        # Messages decoded (in order) and not yet yielded; conflate keeps the newest only.
        self._queue = ReadyQueue(self._tuner, conflate=self.conflate)
        self._ready_limit = self.hwm or sys.maxsize  # hwm 0: no limit, as in ZeroMQ
        self._read_at = 0.0  # when the application last read the socket (monotonic)
        # Called (from the service thread) when messages are ready: see set_wakeup.
        self._wakeup: Callable[[], object] | None = None
        self._fd: int | None = None  # the socket's FD, read once: see fileno
        self._log = log.bind(channel=self.channel)

        sock = open_sub(options, endpoint, settings, bind=self.bind, security=security)
        self._socket: zmq.Socket[bytes] = sock
        with setting_up(sock, endpoint):
            # open_sub left libzmq's receive queue unbounded (see there): the service
            # thread drains it and applies hwm itself (`_fill`).
            # A SUB's pipe carries no stale data out, and libzmq sends its subscriptions
            # again on reconnect: without IMMEDIATE the I/O thread hands them to a new
            # publisher at once, without waiting for this socket's owner to touch it.
            sock.setsockopt(zmq.IMMEDIATE, 0)
            self._sync()
            self.endpoint = attach(sock, endpoint, bind=self.bind)
            # Whole messages off the socket: in C when the hot loops are built.
            self._hot: Any = None if HOT is None else HOT.Socket(sock)
            if HOT is not None:
                self._tuner.run = HOT.take_run  # the plain runs of frames, decoded in C
                self._tuner.batch = HOT.take_batch  # and plain BATCH frames
                if type(self).recv is _PYTHON_RECV:  # not overridden: the C hot path
                    self.recv = HOT.Receiver(self).recv  # type: ignore[method-assign]
            self._read: Callable[[], list[bytes]] = (
                partial(read_messages, sock) if self._hot is None else self._hot.read
            )
            self._poll: Callable[[int], object] = sock.poll if self._hot is None else self._hot.wait
        self._service = ServiceThread(
            self._lock,
            self._service_locked,
            f"radio-sub-{self.channel}",
            after=self._wake,
            busy_pause=BUSY_PAUSE_S,  # slices of a backlog, the reader gets the lock between
            idle_interval=IDLE_INTERVAL_S,  # while the application reads the socket itself
        )
        self._service.start()
        self._log.info("subscriber_started", endpoint=self.endpoint, bind=self.bind)

    # -- context manager, repr, state ----------------------------------------------------

    @classmethod
    def join(
        cls,
        desk: str,
        client: str,
        *,
        timeout: float = REQUEST_TIMEOUT_S,
        **settings: Unpack[JoinSettings],
    ) -> Subscriber:
        """Ask the publisher's session desk for a fresh session for *client*; tune in to it.

        The desk closes the session it gave *client* before (its subscribers hear
        the END), so a client that restarts never hears its old session. Returns a
        Subscriber connected to the endpoint the desk names (*settings* as for the
        constructor); raises `DeskError` if the desk refuses or does not answer.
        """
        answer = ask(desk, client, validate_seconds(timeout, "timeout"), settings.get("security"))
        sub = cls(answer.endpoint, channel=answer.channel, **settings)
        try:
            sub.tune_in(answer.session)
        except BaseException:
            sub.close()
            raise
        return sub

    def _describe(self) -> str:
        return f"channel={self.channel!r} {'bind' if self.bind else 'connect'} {self.endpoint}"

    # -- waiting from an event loop ------------------------------------------------------

    def fileno(self) -> int:
        """The socket's ZeroMQ file descriptor, for an event loop to wait on.

        It is edge-triggered and only means "look again": when it polls readable,
        call ``recv(0)`` until it returns None. radio's service thread also reads
        ahead, which can consume that edge: wait on `set_wakeup` too.
        """
        with self._lock:  # the FD is read once, under the socket's lock
            self._check_open()
            if self._fd is None:
                self._fd = int(self._socket.getsockopt(zmq.FD))
            return self._fd

    def set_wakeup(self, callback: Callable[[], object] | None) -> None:
        """Call *callback* whenever messages are ready to read (None: stop).

        It runs on radio's service thread, outside the lock, with no argument,
        after each service pass that leaves messages waiting; it should only hand
        the news to whoever reads (e.g. ``loop.call_soon_threadsafe``).
        """
        self._wakeup = callback

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
    def on_air(self) -> bool:
        """Whether the publisher's beacons arrive (False before the first one).

        It turns False after ``off_air_after`` beacon intervals without a beacon
        (the publisher went silent, froze or restarted) and True at the next one.
        """
        return self._tuner.on_air

    @property
    def stats(self) -> Stats:
        """A snapshot of what was heard and what was dropped, by reason."""
        with self._lock:
            return self._tuner.snapshot()

    # -- tuning --------------------------------------------------------------------------

    def tune_in(self, session: str) -> None:
        """Hear *session* from now on, until `tune_out` or the publisher closes it."""
        validate_name(session, "session")
        with self._lock:
            self._check_open()
            self._tuner.tune_in(session)
            self._sync()
            self._purge()
        self._log.info("tuned_in", session=session)

    def tune_out(self, session: str) -> None:
        """Stop hearing *session*; messages of it still queued are never yielded."""
        validate_name(session, "session")
        with self._lock:
            self._check_open()
            self._tuner.tune_out(session)
            self._sync()
            self._purge()
        self._log.info("tuned_out", session=session)

    def follow(self) -> None:
        """Hear the channel's live session, moving to each new one as the publisher opens it."""
        with self._lock:
            self._check_open()
            self._tuner.follow()
            self._sync()
            self._purge()
        self._log.info("following")

    def unfollow(self) -> None:
        """Stop following the live session (sessions tuned in to explicitly stay)."""
        with self._lock:
            self._check_open()
            self._tuner.unfollow()
            self._sync()
            self._purge()
        self._log.info("unfollowed")

    def _sync(self) -> None:
        """Make the socket's subscriptions match the tuner's topics (under the lock).

        Each topic comes with this subscriber's presence subscription: subscribed
        after the topic (so a publisher that sees the listener already routes to it)
        and unsubscribed before it.
        """
        wanted = self._tuner.subscriptions(self._id)
        leaving, joining = self._subscribed - wanted, wanted - self._subscribed
        for topic in sorted(leaving, key=lambda t: not is_marker(t)):  # markers first
            self._socket.setsockopt(zmq.UNSUBSCRIBE, topic)
        for topic in sorted(joining, key=is_marker):  # markers last
            self._socket.setsockopt(zmq.SUBSCRIBE, topic)
        self._subscribed = wanted
        self._tuner.synced()

    # -- receiving -----------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Message | None:
        """Return the next message heard, or None after *timeout* seconds (None: wait for ever).

        Messages are taken `CHUNK` at a time under the lock and popped one by one
        without it; a retune meanwhile is noticed by the generation counter (what it
        fenced is not returned), and each one's TTL is checked as it is returned.
        ``radio._hot.Receiver.recv`` is this method's hot path in C, when built.
        """
        if timeout is not None and not (timeout.__class__ is float and 0.0 <= timeout < _INF):
            timeout = validate_timeout(timeout)
        queue = self._queue
        generation = queue.generation  # read before the pop: see ReadyQueue.fence
        taken = queue.taken
        if taken:  # the hot path: popleft is atomic, other readers may pop too
            try:
                message: Message | None = taken.popleft()
            except IndexError:
                message = None
            if message is not None:
                conversion = queue.conversion  # before the generation: see ReadyQueue.rebase
                if queue.generation == generation and not (
                    message[4] and _monotonic() + conversion > message[3] + message[4]
                ):
                    return message
                return self._recv_checked(message, generation, timeout)
        return self._recv_waiting(timeout)

    def _recv_checked(
        self, message: Message, generation: int, timeout: float | None
    ) -> Message | None:
        """`recv` of a message taken as the queue was retuned or rebased, or expired: careful."""
        with self._lock:
            if self._closed:
                self.unread += 1  # taken before the close: unread, as the rest
            elif self._queue.still_heard(message, generation):
                return message
        return self._recv_waiting(timeout)

    def _recv_waiting(self, timeout: float | None) -> Message | None:
        """`recv` with nothing taken ready: the next from the queue, or wait for one."""
        # `with`, not acquire() then try: a Ctrl-C between those two would leave the
        # lock held for ever (CPython checks for signals right after a call returns).
        queue = self._queue
        with self._lock:
            message = queue.pop()
            if message is not None:
                queue.take_chunk()
        return message if message is not None else self._wait(timeout)

    def _wait(self, timeout: float | None) -> Message | None:
        """Fill the ready queue from the socket, waiting at most *timeout* seconds."""
        messages = self._wait_many(timeout, 1)[1]
        return messages[0] if messages else None

    def _wait_many(self, timeout: float | None, count: int) -> tuple[int, list[Message]]:
        """Up to *count* messages and the queue's generation they were taken at.

        It fills the ready queue from the socket, waiting at most *timeout* seconds.
        """
        deadline: float | None = None
        queue = self._queue
        while True:
            with self._lock:
                self._check_open()
                self._read_at = _monotonic()  # see _service_locked
                for _ in range(SERVICE_READS):  # past hwm, drain what waits: libzmq keeps none
                    if not self._fill():
                        break
                generation = queue.generation
                messages = queue.pop_many(count)
                if messages:
                    if count == 1:  # recv: the rest is for its next calls, taken now
                        queue.take_chunk()
                    return generation, messages
                self._tuner.check_air()  # nothing unread: silence is real
                now = _monotonic()
                if deadline is None:
                    deadline = _INF if timeout is None else now + timeout
                remaining = deadline - now
                if remaining <= 0:
                    return generation, []
                self._poll(to_ms(min(remaining, POLL_SLICE_S)))

    def recv_many(self, max_count: int = CHUNK, timeout: float | None = None) -> list[Message]:
        """Up to *max_count* messages heard, in order: the throughput call.

        Returns as soon as at least one is there, with every other one ready then
        (taken under one lock), or ``[]`` after *timeout* seconds (None: wait for
        ever). Each was checked against its TTL as it was taken.
        """
        count = validate_max_count(max_count)
        if timeout is not None and not (timeout.__class__ is float and 0.0 <= timeout < _INF):
            timeout = validate_timeout(timeout)
        with self._lock:
            messages = self._queue.pop_many(count)
        if messages:
            return messages
        return self._wait_many(timeout, count)[1]

    def _chunk(self) -> tuple[int, list[Message]]:
        """Up to `CHUNK` messages (waiting for one) and the generation they were taken at.

        Both under one lock: a retune or a rebase is either before both or noticed.
        """
        queue = self._queue
        with self._lock:
            generation = queue.generation
            messages = queue.pop_many(CHUNK)
        if messages:
            return generation, messages
        return self._wait_many(None, CHUNK)

    def _fill(self) -> bool:
        """Read whole messages (`read_messages`) and decode them, in order, into the ready queue.

        Beacons and ENDs take effect in order too: a message sent before a session
        switch is still yielded, one sent after it is fenced. In conflate mode the
        ready queue holds one message, so only the newest survives. Past ``hwm``
        messages waiting, what it reads is dropped and counted as gaps; it returns
        whether it did (the reader then drains on: libzmq must hold nothing).
        """
        queue = self._queue
        out: Callable[[Message], object]
        dropping = not self.conflate and len(queue) >= self._ready_limit
        if self.conflate:
            out = queue.put
        elif not dropping:
            out = queue.queue.append  # at most one read over the limit: `READ_FRAMES`
        else:
            out = self._drop  # the application is behind: hwm applies here, not in libzmq
        tuner = self._tuner
        hot = self._hot
        if hot is None:
            frames = self._read()
        else:  # the messages that go on from the last run are taken before they are frames
            state = tuner.continuation()
            if state is None:
                frames = hot.read()
            else:
                limit = tuner.max_message_size
                frames = hot.read_on(state, out, tuner.continued, -1 if limit is None else limit)
                if not frames and hot.went_on:
                    queue.refresh()
                    return dropping
        if not frames:
            return False
        tuner.take(frames, out, -1 if hot is None else hot.largest)
        queue.refresh()
        if self._tuner.changed:
            self._sync()
        return dropping

    def _drop(self, message: Message) -> None:
        """A message decoded while the ready queue is full (``hwm``): a gap, counted."""
        self._tuner.ledger.retract(message, Loss.GAPS)

    def _purge(self) -> None:
        """Drop decoded messages of sessions no longer heard (after a retune): fenced."""
        self._queue.fence()

    def __iter__(self) -> Iterator[Message]:
        """Yield messages as they are heard until the subscriber is closed.

        It takes them `CHUNK` at a time under one lock (with the generation counter)
        and yields them one by one without it; a retune or a rebase meanwhile is
        noticed by the counter (what it fenced is not yielded), each one's TTL is
        checked again as it is yielded, and what is left when the loop stops goes
        back, in order. ``radio._hot.Iteration`` is this loop in C, when built.
        """
        if HOT is not None and type(self).__iter__ is _PYTHON_ITER:
            return cast(Iterator[Message], HOT.Iteration(self))
        return self._messages()

    def _messages(self) -> Iterator[Message]:
        """`__iter__`'s loop in Python."""
        queue = self._queue
        while True:
            try:
                generation, chunk = self._chunk()
            except ClosedError:
                return
            done = 0  # messages of the chunk yielded or dropped
            try:
                for message in chunk:
                    # Read before the generation (see ReadyQueue); needed only with a TTL.
                    conversion = queue.conversion if message[4] else 0.0
                    if queue.generation != generation:
                        break  # retuned or rebased: the rest goes back through the fence
                    done += 1
                    if message[4] and queue.expired(message, conversion):
                        self._expire(message)
                        continue
                    yield message
            finally:
                if done < len(chunk):
                    self._put_back(chunk[done:], generation)

    def _expire(self, message: Message) -> None:
        """A message taken by an iterator and expired before it was handed out: counted."""
        with self._lock:
            self._tuner.ledger.retract(message, Loss.EXPIRED)

    def _put_back(self, rest: list[Message], generation: int) -> None:
        """Messages an iterator took and did not hand out go back in front, in order.

        After a close they are counted unread, as the rest.
        """
        with self._lock:
            if self._closed:
                self.unread += len(rest)
            else:
                self._queue.give_back(rest, generation)

    # -- servicing and closing -----------------------------------------------------------

    def _service_locked(self) -> bool | None:
        """Attach new connections (sending them our subscriptions) and read everything.

        Reading decodes frames in order, so a beacon naming a new live session
        moves a follower (and its subscriptions) while the application is busy, and
        the publisher sees it tuned in. It reads all that waits, in slices of
        `SERVICE_READS` reads (returning True when more waits: the next slice
        comes at once, after the lock went back), so libzmq's queue never fills;
        past ``hwm`` messages not yet read, `_fill` drops and counts (memory stays
        bounded); in conflate mode it keeps only the newest. It skips its turn
        when the application read the socket itself within the service interval
        (handing the socket's lock and the interpreter back and forth costs both),
        and returns None: the thread then backs off while the application reads
        (`IDLE_INTERVAL_S`), and is back at its interval once a turn finds work.
        """
        if self._closed:
            return False
        if _monotonic() - self._read_at < SERVICE_INTERVAL_S:
            return None  # the application read the socket within the interval: serviced
        self._socket.getsockopt(zmq.EVENTS)  # processes pending commands: attaches peers
        for _ in range(SERVICE_READS):
            if not self._socket.poll(0):
                self._tuner.check_air()  # nothing unread: silence is real
                return False
            self._fill()
        return True

    def _wake(self) -> None:
        """Tell the reader that messages are ready (service thread, outside the lock)."""
        callback = self._wakeup
        if callback is not None and self._queue:
            callback()

    def close(self) -> None:
        """Tune out of everything and close the socket.

        Messages read ahead and not yet yielded are counted in `unread`, not as
        dropped: they belong to sessions heard, and stay counted in ``received``.
        The socket unsubscribes (presence markers first) before it closes, so the
        publisher sees this listener leave at once.
        """
        if self._closed:
            return
        self._service.stop()  # no more reading ahead
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._hot is not None:
                self._hot.detach()
            self.unread = self._queue.clear()
            with contextlib.suppress(zmq.ZMQError):
                for topic in sorted(self._subscribed, key=lambda t: not is_marker(t)):
                    self._socket.setsockopt(zmq.UNSUBSCRIBE, topic)
            self._socket.close(linger=to_ms(CLOSE_LINGER_S))
            sessions = sorted(self._tuner.sessions)
        if sessions:
            self._log.info("tuned_out", sessions=sessions, unread=self.unread)
        self._log.info("subscriber_closed", endpoint=self.endpoint)


_PYTHON_RECV: Final = Subscriber.recv
_PYTHON_ITER: Final = Subscriber.__iter__
