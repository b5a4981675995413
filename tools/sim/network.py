"""A simulated network that behaves like libzmq PUB/SUB between one publisher and its subscribers.

Modelled (libzmq 4.3.5 as docs/DESIGN.md describes it):

- the publisher filters by byte prefix per connection (pipe), on the topics the
  subscriber's subscription events brought it; a two-part message travels whole;
- each pipe drops whole messages at its high-water mark (`hwm` in the
  publisher's pipe, `hwm` more in the subscriber's), never blocks;
- per-path delay and jitter (FIFO per connection), and loss, which stands for a
  drop at a relay's high-water mark (TCP itself never loses one message);
- silent cuts one way or both: nothing moves while cut; a cut shorter than the
  heartbeat timeout only delays, a longer one ends the connection at both ends;
- when a connection ends the publisher hears an unsubscription for every topic
  of that pipe, and its queue for that subscriber is gone; the subscriber (which
  connects, ``IMMEDIATE=0``) keeps what already reached its own queue, tries
  again every `RECONNECT_INTERVAL_S` and sends all its subscriptions again;
- the SUB filters again as the application reads (unsubscribed topics' messages
  still queued are dropped).

Hostile peers plug in through `Network.inject`: whatever a peer sends reaches a
subscriber's queue as if the publisher had (see docs/simulation.md); they read
the real frames off `Network.recent`. Another publisher on the channel reaches
the subscribers through a relay's fan-in (`Network.fan_in`).
"""

from __future__ import annotations

import functools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from tools.sim.profile import HEARTBEAT_TIMEOUT_S, RECONNECT_INTERVAL_S
from tools.sim.timeline import Timeline
from tools.sim.truth import Meta

SUBSCRIBE = b"\x01"
UNSUBSCRIBE = b"\x00"
RECENT = 32
"""How many of the last published messages a peer on the wire can copy."""


class Packet(NamedTuple):
    """One ZeroMQ message in flight: its frames, what they carry, when it may arrive."""

    arrival: float
    frames: tuple[bytes, ...]
    meta: Meta


@dataclass
class Path:
    """The network between the publisher's host and one subscriber's host."""

    delay_s: float
    jitter_s: float
    loss: float = 0.0
    cut_down: bool = False  # publisher to subscriber blocked
    cut_up: bool = False  # subscriber to publisher blocked

    @property
    def max_delay_s(self) -> float:
        """The one-way delay bound of this path (when not cut)."""
        return self.delay_s + self.jitter_s


@dataclass
class Connection:
    """One ZMTP connection (an XPUB pipe and the SUB's end of it)."""

    publisher: int  # the publisher incarnation it goes to
    topics: set[bytes] = field(default_factory=set)  # the XPUB's filter for this pipe
    down: deque[Packet] = field(default_factory=deque)  # in the publisher's pipe, on the wire
    up: deque[tuple[float, bytes]] = field(default_factory=deque)  # subscription events
    alive: bool = True
    last_down: float = 0.0
    last_up: float = 0.0


@dataclass
class Counters:
    """What the network dropped, by reason (for the summary and the model's own tests)."""

    hwm: int = 0
    lost: int = 0
    cut_off: int = 0  # queued when a connection ended
    filtered: int = 0  # dropped by the SUB's own filter as it read


class SubscriberEnd(NamedTuple):
    """What the network needs of a subscriber process: its state, its subscriptions."""

    alive: Callable[[], bool]
    frozen: Callable[[], bool]
    subscriptions: Callable[[], list[bytes]]  # in the order a reconnect sends them


class Slot:
    """One subscriber host's place in the network: its path, connection and SUB queue."""

    def __init__(self, path: Path, end: SubscriberEnd) -> None:
        self.path = path
        self.end = end
        self.connection: Connection | None = None
        self.queue: deque[Packet] = deque()  # the SUB's own pipe: survives reconnects
        self.silent_since: float | None = None
        self.connecting = False


class Network:
    """Connections between the publisher and every subscriber slot, in simulated time."""

    def __init__(self, timeline: Timeline, rng: random.Random, hwm: int) -> None:
        self.timeline = timeline
        self.rng = rng
        self.hwm = hwm
        self.slots: list[Slot] = []
        self.counters = Counters()
        self.publisher: int | None = None  # the incarnation up now (None: down)
        self.publisher_events: deque[bytes] = deque()  # the XPUB's subscription events
        self.recent: deque[Packet] = deque(maxlen=RECENT)  # the last messages published
        self._fan_in_last: dict[int, float] = {}  # per slot: the last fan-in arrival
        self.fan_in_events: deque[bytes] | None = None  # another publisher's, once it is up

    # -- set-up -------------------------------------------------------------------------

    def add_slot(self, path: Path, end: SubscriberEnd) -> int:
        """A subscriber host joins; returns its slot number."""
        self.slots.append(Slot(path, end))
        return len(self.slots) - 1

    def max_delay_s(self) -> float:
        """The largest one-way delay bound of any path."""
        return max((slot.path.max_delay_s for slot in self.slots), default=0.0)

    def _delay(self, path: Path) -> float:
        return path.delay_s + self.rng.random() * path.jitter_s

    # -- the publisher's side -----------------------------------------------------------

    def publish(self, frames: tuple[bytes, ...], meta: Meta) -> None:
        """The publisher sends one message: to every pipe whose topics match, or dropped."""
        head = frames[0]
        now = self.timeline.now
        self.recent.append(Packet(now, frames, meta))
        for index, slot in enumerate(self.slots):
            conn = slot.connection
            if conn is None or not conn.alive or conn.publisher != self.publisher:
                continue
            if not any(head.startswith(topic) for topic in conn.topics):
                continue
            self.transfer(index)
            if len(conn.down) >= self.hwm:
                self.counters.hwm += 1
                continue
            if slot.path.loss and self.rng.random() < slot.path.loss:
                self.counters.lost += 1
                continue
            conn.last_down = max(conn.last_down, now + self._delay(slot.path))
            conn.down.append(Packet(conn.last_down, frames, meta))

    def inject(self, index: int, frames: tuple[bytes, ...], meta: Meta) -> None:
        """A (hostile) peer's message reaches slot *index*'s queue now, filter or not."""
        self.slots[index].queue.append(Packet(self.timeline.now, frames, meta))

    def fan_in(self, frames: tuple[bytes, ...], meta: Meta) -> None:
        """Another publisher's message, through a relay, to every subscriber subscribed to it.

        The relay forwards each subscriber's subscriptions to every publisher (here: the
        topics the subscriber holds when the message arrives); it reaches a subscriber's
        queue one path delay later (FIFO per slot), unless the subscriber is down,
        frozen or its queue is full (the relay's pipe drops it at its high-water mark).
        """
        now = self.timeline.now
        for index, slot in enumerate(self.slots):
            arrival = max(self._fan_in_last.get(index, 0.0), now + self._delay(slot.path))
            self._fan_in_last[index] = arrival
            self.timeline.at(arrival, functools.partial(self._fan_in_arrive, index, frames, meta))

    def _fan_in_arrive(self, index: int, frames: tuple[bytes, ...], meta: Meta) -> None:
        slot = self.slots[index]
        if not slot.end.alive() or slot.end.frozen():
            self.counters.cut_off += 1
            return
        head = frames[0]
        if not any(head.startswith(topic) for topic in slot.end.subscriptions()):
            return  # the relay's XPUB filters on the subscriber's subscriptions
        if len(slot.queue) >= self.hwm:
            self.counters.hwm += 1
            return
        slot.queue.append(Packet(self.timeline.now, frames, meta))

    def publisher_up(self, incarnation: int) -> None:
        """A publisher incarnation binds: subscribers connect on their next attempt."""
        self.publisher = incarnation
        self.publisher_events.clear()
        for index in range(len(self.slots)):
            self._try_connect(index)

    def publisher_down(self) -> None:
        """The publisher process dies: every connection ends; subscribers try again."""
        self.publisher = None
        self.publisher_events.clear()
        for index in range(len(self.slots)):
            self._end(index, heard=False)

    # -- the subscriber's side ----------------------------------------------------------

    def transfer(self, index: int) -> None:
        """Move what has arrived into the SUB's queue (while it has room and can read)."""
        slot = self.slots[index]
        conn = slot.connection
        if conn is None or not conn.down or slot.path.cut_down:
            return
        if not slot.end.alive() or slot.end.frozen():
            return
        now, queue, down = self.timeline.now, slot.queue, conn.down
        while down and down[0].arrival <= now and len(queue) < self.hwm:
            queue.append(down.popleft())

    def read(self, index: int, count: int, subscribed: frozenset[bytes]) -> list[Packet]:
        """Up to *count* messages off slot *index*'s queue, after the SUB's own filter."""
        self.transfer(index)
        queue = self.slots[index].queue
        packets: list[Packet] = []
        while queue and len(packets) < count:
            packet = queue.popleft()
            head = packet.frames[0]
            if any(head.startswith(topic) for topic in subscribed):
                packets.append(packet)
            else:
                self.counters.filtered += 1
        return packets

    def pending(self, index: int) -> bool:
        """Whether a read now would find anything (arrived and not yet read)."""
        self.transfer(index)
        return bool(self.slots[index].queue)

    def subscribe(self, index: int, events: list[bytes]) -> None:
        """The subscriber's socket sends subscription events upstream (they may be lost)."""
        slot = self.slots[index]
        conn = slot.connection
        if conn is None or not conn.alive:
            return  # sent again, all of them, when it reconnects
        for event in events:
            conn.last_up = max(conn.last_up, self.timeline.now + self._delay(slot.path))
            conn.up.append((conn.last_up, event))
            self.timeline.at(conn.last_up, lambda: self._pump_up(index))

    def _pump_up(self, index: int) -> None:
        """Hand the subscription events that arrived to the XPUB: filter, then its queue."""
        slot = self.slots[index]
        conn = slot.connection
        if conn is None or not conn.alive or slot.path.cut_up or slot.end.frozen():
            return
        now = self.timeline.now
        while conn.up and conn.up[0][0] <= now:
            _, event = conn.up.popleft()
            topic = event[1:]
            if event[:1] == SUBSCRIBE:
                conn.topics.add(topic)
            else:
                conn.topics.discard(topic)
            if conn.publisher == self.publisher:
                self.publisher_events.append(event)
            if self.fan_in_events is not None:
                self.fan_in_events.append(event)  # the relay forwards it to the other too

    def subscriber_crashed(self, index: int) -> None:
        """The subscriber process died: its queue is gone; the publisher hears it leave."""
        slot = self.slots[index]
        slot.queue.clear()
        conn = slot.connection
        self._silence(index)
        if conn is not None and not slot.path.cut_up:
            # The kernel closes the connection: the publisher hears it a delay later.
            self.timeline.after(self._delay(slot.path), lambda: self._end_if(index, conn))

    def subscriber_started(self, index: int) -> None:
        """A new subscriber process on slot *index*: an empty queue, a fresh connection."""
        slot = self.slots[index]
        slot.queue.clear()
        if slot.connection is not None:
            self._end(index, heard=True)
        self._recheck(index)

    # -- faults -------------------------------------------------------------------------

    def cut(self, index: int, *, down: bool, up: bool, duration: float) -> None:
        """Silently cut slot *index*'s path one way or both, for *duration* seconds."""
        path = self.slots[index].path
        path.cut_down = path.cut_down or down
        path.cut_up = path.cut_up or up
        self._silence(index)
        self.timeline.after(duration, lambda: self._heal(index))

    def _heal(self, index: int) -> None:
        path = self.slots[index].path
        path.cut_down = path.cut_up = False
        self._recheck(index)

    def changed(self, index: int) -> None:
        """The subscriber froze: the connection may go silent."""
        self._silence(index)

    def thawed(self, index: int) -> None:
        """The subscriber runs again (after a freeze)."""
        self._recheck(index)

    def _silent(self, slot: Slot) -> bool:
        path = slot.path
        return path.cut_down or path.cut_up or slot.end.frozen() or not slot.end.alive()

    def _silence(self, index: int) -> None:
        """Something may have made the connection silent: heartbeats end it in time."""
        slot = self.slots[index]
        if slot.silent_since is not None or not self._silent(slot):
            return
        since = slot.silent_since = self.timeline.now
        conn = slot.connection

        def detect() -> None:
            if slot.silent_since == since and self._silent(slot) and slot.connection is conn:
                self._end(index, heard=True)

        self.timeline.after(HEARTBEAT_TIMEOUT_S, detect)

    def _recheck(self, index: int) -> None:
        """The silence may be over: deliver what waited, reconnect if the connection ended."""
        slot = self.slots[index]
        if self._silent(slot):
            return
        slot.silent_since = None
        if slot.connection is None:
            self._try_connect(index)
        else:
            self._pump_up(index)

    def _end_if(self, index: int, conn: Connection | None) -> None:
        if conn is not None and self.slots[index].connection is conn:
            self._end(index, heard=True)

    def _end(self, index: int, *, heard: bool) -> None:
        """The connection ends: the XPUB hears every topic leave; its pipe is dropped."""
        slot = self.slots[index]
        conn = slot.connection
        if conn is None:
            return
        conn.alive = False
        slot.connection = None
        self.counters.cut_off += len(conn.down)
        if heard and conn.publisher == self.publisher:
            self.publisher_events.extend(UNSUBSCRIBE + topic for topic in sorted(conn.topics))
        self.timeline.after(RECONNECT_INTERVAL_S, lambda: self._try_connect(index))

    def _try_connect(self, index: int) -> None:
        """Connect if both ends are up and the path is clear; else try again later."""
        slot = self.slots[index]
        if slot.connection is not None or slot.connecting:
            return
        if self.publisher is None or not slot.end.alive():
            return  # the publisher coming up, or a new subscriber, tries again
        if self._silent(slot):
            slot.connecting = True

            def again() -> None:
                slot.connecting = False
                self._try_connect(index)

            self.timeline.after(RECONNECT_INTERVAL_S, again)
            return
        slot.silent_since = None
        slot.connection = Connection(self.publisher)
        self.subscribe(index, [SUBSCRIBE + topic for topic in slot.end.subscriptions()])
