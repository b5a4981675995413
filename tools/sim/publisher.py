"""A simulated publisher process: drives a real `Transmitter` the way `radio.Publisher` does."""

from __future__ import annotations

from collections import deque

from radio.core.transmitter import Transmitter
from radio.core.wire import Kind
from tools.sim.clocks import HostClock
from tools.sim.network import Network
from tools.sim.profile import BEACON_INTERVAL_S, SERVICE_INTERVAL_S
from tools.sim.timeline import Timeline
from tools.sim.truth import Sent, Truth, describe


class SimPublisher:
    """One publisher incarnation: its core, on its host's clocks, sending into the network.

    Like the driver, it hands every subscription event to `Transmitter.hear` and
    calls `Transmitter.tick` every `SERVICE_INTERVAL_S` of its time, and sends
    the frames each call returns, in order (a two-part message as one).
    """

    def __init__(
        self,
        *,
        incarnation: int,
        channel: str,
        clock: HostClock,
        timeline: Timeline,
        network: Network,
        truth: Truth,
        publisher_id: bytes,
        batch_size: int,
        fan_in: bool = False,
    ) -> None:
        self.incarnation = incarnation
        self.channel = channel
        self.clock = clock
        self.timeline = timeline
        self.network = network
        self.truth = truth
        self.alive = True
        self.publisher_id = publisher_id
        truth.instances[publisher_id] = incarnation
        self.fan_in = fan_in  # another publisher, reaching subscribers through a relay
        self.core = Transmitter(
            channel,
            batch_size=batch_size,
            beacon_interval=BEACON_INTERVAL_S,
            clock=clock.wall,
            monotonic=clock.monotonic,
            publisher_id=publisher_id,
        )
        if fan_in:
            network.fan_in_events = deque()
        else:
            network.publisher_up(incarnation)
        self.timeline.after(0.0, self._service)

    def _service(self) -> None:
        """Feed subscription events to the core and send what it says is due."""
        if not self.alive:
            return
        now = self.clock.monotonic()  # as the driver: every stamp monotonic (version 3)
        events = self.network.publisher_events
        if self.fan_in:
            events = self.network.fan_in_events or events.__class__()
        while events:
            self.emit(self.core.hear(events.popleft(), now, b""))
        self.emit(self.core.tick(now))
        self.timeline.after(SERVICE_INTERVAL_S, self._service)

    def emit(self, frames: list[bytes]) -> None:
        """Send the core's frames in order, each one message."""
        for frame in frames:
            self._send((frame,))

    def _send(self, frames: tuple[bytes, ...]) -> None:
        meta = describe(frames, self.incarnation, self.channel)
        if meta.kind is Kind.HELLO:
            state = self.core.sessions.get(meta.session)
            meta.true_seq = (
                state.seq
                if state is not None
                else self.truth.ended.get((self.incarnation, meta.session), 0)
            )
        if self.fan_in:
            self.network.fan_in(frames, meta)
        else:
            self.network.publish(frames, meta)

    def open(self, session: str) -> None:
        """Open *session* (it goes live)."""
        self.emit(self.core.open(session))

    def close(self, session: str) -> None:
        """Close *session* (its END, and a beacon if the live one changed)."""
        self.truth.ended[(self.incarnation, session)] = self.core.sessions[session].seq
        self.emit(self.core.close(session))

    def send(self, session: str, ttl: float, size: int) -> None:
        """Send one message of *size* bytes on open *session*."""
        ident, payload = self.truth.new_payload(size)
        state = self.core.sessions[session]
        self.truth.sent[ident] = Sent(
            ident,
            self.incarnation,
            session,
            state.seq + 1,
            self.timeline.now,
            ttl,
            self.core.live == session,
        )
        frames = self.core.send(session, payload, ttl)
        if len(frames) == 2:
            self._send((frames[0], frames[1]))  # a two-part message: one fate
        else:
            self.emit(frames)

    def send_many(self, session: str, ttl: float, sizes: list[int]) -> None:
        """Send messages of *sizes* bytes on open *session* in one call, as send_many does."""
        state = self.core.sessions[session]
        now, live = self.timeline.now, self.core.live == session
        payloads = []
        for number, size in enumerate(sizes, start=state.seq + 1):
            ident, payload = self.truth.new_payload(size)
            self.truth.sent[ident] = Sent(ident, self.incarnation, session, number, now, ttl, live)
            payloads.append(payload)
        for item in self.core.send_many(session, payloads, ttl):
            self._send(item if isinstance(item, tuple) else (item,))  # a two-part one: one fate

    def crash(self) -> None:
        """The process dies: no ENDs, no last words; every connection ends."""
        self.alive = False
        if not self.fan_in:
            self.network.publisher_down()
