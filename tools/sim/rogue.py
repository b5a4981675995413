"""A hostile peer on the channel (no CURVE): forged beacons, ENDs and frames in subscribers' queues.

The rogue stands for a peer that reaches the subscribers as a second publisher
does (through a relay's fan-in, or a SUB connecting to it): what it sends goes
into a subscriber's queue through `Network.inject`, and the SUB's own filter
drops what the subscriber is not subscribed to. Like such a peer it sees
everything in clear text: the publisher's ID in its beacons, session names and
seqs, the real frames (`Network.recent`), and the subscribers' subscriptions
(which carry their listener IDs, hence their inboxes). Every frame it sends
has instance `ROGUE`; every data message it makes gets a message ID of its own
in `Truth.sent`, so that the oracle tells it from the honest publisher's.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Final

from radio.core.names import control_topic, inbox_topic, session_topic
from radio.core.wire import (
    HEADER,
    LEAD,
    PART_TRAILER,
    VERSION,
    Beacon,
    Kind,
    encode,
    encode_batch,
    encode_beacon,
    encode_parts,
    pack_tail,
)
from radio.errors import MalformedMessageError
from tools.sim.clocks import HostClock
from tools.sim.network import Network
from tools.sim.profile import ACTIVE_S, BEACON_INTERVAL_S
from tools.sim.timeline import Timeline
from tools.sim.truth import ROGUE, Meta, Sent, Truth, describe

FAR_S: Final[float] = 1e6
"""How far ahead or behind a forged send time is (issue 17: 10^6 s)."""

ATTACKS: Final[tuple[str, ...]] = (
    "beacon_moves",  # a different live session (open, or the rogue's own)
    "beacon_huge_seq",  # live_seq 2**32 (and more)
    "beacon_ends_open",  # ended naming open sessions
    "beacon_interval",  # interval 0 or 1e9
    "data_future",  # DATA on a session topic stamped 10^6 s ahead
    "data_past",  # ... and 10^6 s behind
    "end_forged",  # END of an open session
    "flip_seq",  # a real DATA frame with one bit of its seq flipped
    "flip_sent_at",  # ... with one bit of its send time flipped
    "parted_lie",  # a two-part head that lies about its part
    "inbox_batch",  # a BATCH in a subscriber's inbox
    "inbox_jump",  # a last value in an inbox whose seq is far past what was heard
)

HONEST_ID: Final = struct.Struct("!Q")


class Rogue:
    """Sends one forged message every 50-300 ms of the active phase, to one subscriber or all.

    *honest* gives the honest publisher's core state (its ID, sessions, live
    session and seqs, read off the wire by a real rogue); *targets* the
    subscriber slots with a process up, each with its listener ID.
    """

    def __init__(
        self,
        *,
        channel: str,
        timeline: Timeline,
        network: Network,
        truth: Truth,
        rng: random.Random,
        clock: HostClock,
        honest: Callable[[], tuple[bytes, dict[str, int], str | None] | None],
        targets: Callable[[], list[tuple[int, bytes, frozenset[str]]]],
        keep: frozenset[int] | None = None,
    ) -> None:
        self.channel = channel
        self.timeline = timeline
        self.network = network
        self.truth = truth
        self.rng = rng
        self.clock = clock  # the honest publisher's host clock: the times it stamps
        self.honest = honest
        self.targets = targets
        self.control = control_topic(channel)
        self.sent: dict[str, int] = {}  # what it sent, by attack
        self.keep = keep  # only these of its messages, by number, are sent (None: all)
        self.made = 0  # messages made so far (the number of the next one)
        self.played: list[int] = []  # the numbers of those sent

    def start(self) -> None:
        """Begin the attacks."""
        self.timeline.after(self.rng.uniform(0.1, 0.4), self._attack)

    def _attack(self) -> None:
        if self.timeline.now >= ACTIVE_S:
            return
        self.timeline.after(self.rng.uniform(0.05, 0.3), self._attack)
        honest = self.honest()
        targets = self.targets()
        if honest is None or not targets:
            return
        attack = self.rng.choice(ATTACKS)
        slot, listener, heard = self.rng.choice(targets)
        everyone = [t[0] for t in targets] if self.rng.random() < 0.5 else [slot]
        made = getattr(self, f"_{attack}")(honest, listener, heard)
        if made is None:
            return
        self.made += 1
        if self.keep is not None and self.made - 1 not in self.keep:
            return  # a shrunk run: drawn as before, not sent
        self.played.append(self.made - 1)
        self.sent[attack] = self.sent.get(attack, 0) + 1
        frames, meta = made
        meta.attack = attack
        for index in everyone if not attack.startswith("inbox") else [slot]:
            self.network.inject(index, frames, meta)

    # -- helpers ------------------------------------------------------------------------

    def _now(self) -> float:
        return self.clock.monotonic()  # send times are monotonic clocks (version 3)

    def _payload(
        self, session: str, seq: int, ttl: float, live: bool, claims: bytes | int
    ) -> bytes:
        """A data payload with a fresh message ID, recorded as the rogue's (sent now).

        *claims*: the publisher ID its header names, or that publisher's instance.
        """
        ident, payload = self.truth.new_payload(self.rng.randint(16, 48))
        if isinstance(claims, bytes):
            claims = self.truth.instances.get(claims, ROGUE)
        sent = Sent(ident, ROGUE, session, seq, self.timeline.now, ttl, live, claims)
        self.truth.sent[ident] = sent
        return payload

    def _meta(self, frames: tuple[bytes, ...]) -> Meta:
        try:
            return describe(frames, ROGUE, self.channel)
        except (MalformedMessageError, ValueError, IndexError, struct.error):
            return Meta(Kind.DATA, "", 0, ROGUE)  # no data the oracle could count

    def _session(self, sessions: dict[str, int], heard: frozenset[str]) -> str | None:
        """A session to forge frames of: one the target hears, else any open one."""
        names = sorted(heard) or sorted(sessions)
        return self.rng.choice(names) if names else None

    def _beacon(self, beacon: Beacon, interval: float = BEACON_INTERVAL_S) -> bytes:
        seq = self.rng.randint(1, 1000)
        return encode_beacon(self.control, seq, self._now(), interval, beacon)

    # -- the attacks --------------------------------------------------------------------

    def _beacon_moves(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        others = [s for s in sorted(sessions) if s != live] + ["rogue"]
        target = self.rng.choice(others)
        beacon = Beacon(publisher, target, self.rng.randint(0, 50), (), False, "", 0)
        frames = (self._beacon(beacon),)
        return frames, self._meta(frames)

    def _beacon_huge_seq(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        if live is None:
            return None
        huge = self.rng.choice([2**32, sessions[live] + 2**32, 2**40, 2**64 - 1])
        beacon = Beacon(publisher, live, huge, (), False, "", 0)
        frames = (self._beacon(beacon),)
        return frames, self._meta(frames)

    def _beacon_ends_open(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        if not sessions:
            return None
        names = self.rng.sample(sorted(sessions), self.rng.randint(1, len(sessions)))
        ended = tuple((name, sessions[name] + self.rng.choice([0, 0, 5, 2**33])) for name in names)
        beacon = Beacon(publisher, live or "", sessions[live] if live else 0, ended[:8])
        frames = (self._beacon(beacon),)
        return frames, self._meta(frames)

    def _beacon_interval(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        beacon = Beacon(publisher, live or "", sessions[live] if live else 0)
        frames = (self._beacon(beacon, self.rng.choice([0.0, 1e9])),)
        return frames, self._meta(frames)

    def _data(
        self, honest: tuple[bytes, dict[str, int], str | None], heard: frozenset[str], shift: float
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        session = self._session(sessions, heard)
        if session is None:
            return None
        seq = sessions.get(session, 0) + self.rng.randint(1, 3)
        ttl = self.rng.choice([0.0, 1.0, 60.0])
        sent_at = max(0.0, self._now() + shift)
        is_live = session == live
        payload = self._payload(session, seq, ttl, is_live, publisher)
        topic = session_topic(self.channel, session)
        frames = (
            encode(topic, Kind.DATA, seq, sent_at, payload, ttl, live=is_live, publisher=publisher),
        )
        return frames, self._meta(frames)

    def _data_future(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        return self._data(honest, heard, FAR_S)

    def _data_past(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        return self._data(honest, heard, -FAR_S)

    def _end_forged(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, _live = honest
        session = self._session(sessions, heard)
        if session is None:
            return None
        seq = sessions.get(session, 0) + self.rng.choice([0, 0, 10, 2**33])
        topic = session_topic(self.channel, session)
        frames = (encode(topic, Kind.END, seq, self._now(), publisher=publisher),)
        return frames, self._meta(frames)

    def _flip(self, field_offset: int, bits: range) -> tuple[tuple[bytes, ...], Meta] | None:
        """A real single-frame DATA message, one bit flipped at *field_offset* of its header."""
        real = [p for p in self.network.recent if len(p.frames) == 1 and p.meta.kind is Kind.DATA]
        if not real:
            return None
        packet = self.rng.choice(real)
        frame = bytearray(packet.frames[0])
        offset = _header_offset(bytes(frame))
        if offset < 0:
            return None
        bit = self.rng.choice(bits)
        at = offset + field_offset + (7 - bit // 8)
        frame[at] ^= 1 << (bit % 8)
        body = offset + HEADER.size
        try:
            _, _, _, seq, _, ttl = HEADER.unpack_from(frame, offset)
        except struct.error:
            return None
        # Its own message ID: a copy that is not the original message.
        payload = self._payload(
            packet.meta.session, seq, ttl, packet.meta.live, packet.meta.instance
        )
        frame[body : body + 8] = payload[:8]
        frames = (bytes(frame),)
        return frames, self._meta(frames)

    def _flip_seq(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        return self._flip(LEAD.size, range(0, 64))

    def _flip_sent_at(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        return self._flip(LEAD.size + 8, range(0, 63))  # not the sign bit: always >= 0

    def _parted_lie(
        self, honest: tuple[bytes, dict[str, int], str | None], _: bytes, heard: frozenset[str]
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        session = self._session(sessions, heard)
        if session is None:
            return None
        seq = sessions.get(session, 0) + 1
        payload = self._payload(session, seq, 0.0, session == live, publisher)
        topic = session_topic(self.channel, session)
        is_live = session == live
        head, part = encode_parts(
            topic, seq, self._now(), payload, live=is_live, publisher=publisher
        )
        lie = self.rng.choice(["longer", "shorter", "alone", "two_heads"])
        if lie == "two_heads" and len(head) == len(part):
            lie = "alone"  # the second head would be a valid part: not a lie
        if lie == "alone":
            frames: tuple[bytes, ...] = (head,)
        elif lie == "two_heads":
            frames = (head, head)
        else:
            length = len(part) + (1 if lie == "longer" else -1)
            check = PART_TRAILER.unpack_from(head, len(head) - PART_TRAILER.size)[1]
            frames = (head[: -PART_TRAILER.size] + PART_TRAILER.pack(length, check), part)
        return frames, Meta(Kind.DATA, session, seq, ROGUE)  # malformed: no data to count

    def _inbox_batch(
        self,
        honest: tuple[bytes, dict[str, int], str | None],
        listener: bytes,
        heard: frozenset[str],
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        session = self._session(sessions, heard)
        if session is None:
            return None
        first = sessions.get(session, 0) + 1
        now = self._now()
        records = [
            (now, self._payload(session, first + n, 0.0, session == live, publisher))
            for n in range(3)
        ]
        batch = encode_batch(b"", first, 0.0, records, live=session == live, publisher=publisher)
        frame = inbox_topic(self.channel, listener) + session.encode("ascii") + b"/" + batch
        return (frame,), self._inbox_meta(frame, Kind.BATCH, session, first, listener)

    def _inbox_jump(
        self,
        honest: tuple[bytes, dict[str, int], str | None],
        listener: bytes,
        heard: frozenset[str],
    ) -> tuple[tuple[bytes, ...], Meta] | None:
        publisher, sessions, live = honest
        session = self._session(sessions, heard)
        if session is None:
            return None
        seq = sessions.get(session, 0) + self.rng.randint(20, 60)
        now = self._now()
        payload = self._payload(session, seq, 0.0, session == live, publisher)
        kind = Kind.DATA | (0x80 if session == live else 0)
        header = LEAD.pack(VERSION, kind, publisher) + pack_tail(seq, now, 0.0)
        frame = inbox_topic(self.channel, listener) + session.encode("ascii") + b"/" + header
        frame += payload
        return (frame,), self._inbox_meta(frame, Kind.DATA, session, seq, listener)

    @staticmethod
    def _inbox_meta(frame: bytes, kind: Kind, session: str, seq: int, listener: bytes) -> Meta:
        return Meta(kind, session, seq, ROGUE, listener=listener)


def _header_offset(frame: bytes) -> int:
    """Where the header of a session frame starts (past the topic's second ``/``), or -1."""
    first = frame.find(b"/")
    second = frame.find(b"/", first + 1) if first >= 0 else -1
    return second + 1 if second >= 0 else -1
