"""What really happened: every message sent, and what each frame on the wire carries."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Final

from radio.core.wire import HEADER, Beacon, Kind, decode, decode_parts, decode_records

_ID: Final = struct.Struct("!Q")
INBOX_MARK: Final[bytes] = b"\x00"
ROGUE: Final[int] = 0
"""The publisher instance every hostile peer's frame is recorded under (honest ones: 1, 2...)."""
OTHER: Final[int] = 1000
"""The publisher instance of a second publisher on the channel (``two_publishers``)."""


@dataclass(slots=True)
class Sent:
    """One message as the simulated publisher sent it (true time, not any host's clock)."""

    id: int
    instance: int  # which publisher incarnation (a restart is a new one)
    session: str
    seq: int
    true_at: float
    ttl: float  # 0.0: no expiry
    live: bool  # the LIVE flag it went with
    claims: int = ROGUE  # a forged one's: the instance its header names (ROGUE: none known)


@dataclass(slots=True)
class Meta:
    """What one message on the wire (one ZeroMQ message, maybe two frames) carries.

    Decoded once at the publisher with radio's own codec, so the oracle never
    looks inside the subscriber's core.
    """

    kind: Kind
    session: str
    seq: int
    instance: int
    ids: tuple[int, ...] = ()  # the data messages it carries, in seq order
    live: bool = False
    beacon: Beacon | None = None
    listener: bytes = b""  # an inbox frame's addressee
    tag: bytes = b""  # a HELLO's tag
    true_seq: int = 0  # a HELLO's session's last seq really sent when it went
    attack: str = ""  # a hostile peer's frame: which attack (see `tools.sim.rogue`)

    @property
    def is_data(self) -> bool:
        """Whether it carries data messages (a DATA, two-part or BATCH frame)."""
        return bool(self.ids)


@dataclass
class Truth:
    """Every message sent in a run, by ID, and the last seq of every ended session."""

    sent: dict[int, Sent] = field(default_factory=dict)
    ended: dict[tuple[int, str], int] = field(default_factory=dict)
    instances: dict[bytes, int] = field(default_factory=dict)  # publisher ID: its instance
    _next_id: int = 1

    def new_payload(self, size: int) -> tuple[int, bytes]:
        """A fresh message ID and a payload of *size* bytes (at least 8) that carries it."""
        ident = self._next_id
        self._next_id += 1
        return ident, _ID.pack(ident) + bytes(max(size, 8) - 8)


def message_id(payload: bytes) -> int:
    """The ID a payload made by `Truth.new_payload` carries."""
    return int(_ID.unpack_from(payload)[0])


def describe(frames: tuple[bytes, ...], instance: int, channel: str) -> Meta:
    """Decode one message the publisher core returned (see `Meta`)."""
    head = frames[0]
    if head.startswith(INBOX_MARK):
        return _inbox(head, instance, channel)
    frame = decode_parts(head, frames[1]) if len(frames) > 1 else decode(head)
    if frame.kind is Kind.BATCH:
        offset = len(head) - len(frame.payload)
        ids = tuple(message_id(payload) for _, payload in decode_records(head, offset))
    elif frame.kind is Kind.DATA:
        ids = (message_id(frame.payload),)
    else:
        ids = ()
    return Meta(frame.kind, frame.session, frame.seq, instance, ids, frame.live, frame.beacon)


def _inbox(frame: bytes, instance: int, channel: str) -> Meta:
    r"""An inbox frame: ``\x00 channel/ id / session / header payload``."""
    start = len(INBOX_MARK) + len(channel) + 1
    id_end = frame.index(b"/", start)
    session_end = frame.index(b"/", id_end + 1)
    offset = session_end + 1
    _, kind_byte, _, seq, _, _ = HEADER.unpack_from(frame, offset)
    kind = Kind(kind_byte & 0x0F)
    return Meta(
        kind,
        frame[id_end + 1 : session_end].decode("ascii"),
        int(seq),
        instance,
        listener=frame[start:id_end],
        tag=frame[offset + HEADER.size :] if kind is Kind.HELLO else b"",
    )
