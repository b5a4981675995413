"""Opt-in batching: one session's messages packed into BATCH frames (pure, no socket)."""

from __future__ import annotations

from typing import Final, Protocol

from radio.core.wire import (
    HEADER,
    NO_PUBLISHER,
    RECORD,
    Kind,
    frame_prefix,
    pack_record,
    pack_tail,
)

BATCH_DELAY_S: Final[float] = 0.001
"""Default longest time a message waits in a batch before it is sent."""

_RECORD_SIZE: Final[int] = RECORD.size


class Batcher(Protocol):
    """What a session needs of its batch: `Batch`, or its C twin in ``radio._hot``."""

    def set_live(self, live: bool) -> None: ...
    def __len__(self) -> int: ...
    def add(self, seq: int, sent_at: float, ttl: float, payload: bytes) -> bytes | None: ...
    def due(self, now: float) -> bool: ...
    def flush(self) -> bytes | None: ...


class Batch:
    """Collects one session's messages and hands back a BATCH frame when one is due.

    A batch holds messages with the same TTL, at most ``max_messages`` of them and
    ``max_bytes`` in all, for at most ``delay`` seconds (the publisher's service
    thread calls `due`). The frame carries the first message's seq and send time
    in its header and every message's own send time in its record.
    """

    __slots__ = (
        "_first_seq",
        "_max_parts",
        "_parts",
        "_prefix",
        "_publisher",
        "_since",
        "_size",
        "_topic",
        "_ttl",
        "delay",
        "max_bytes",
    )

    def __init__(
        self,
        topic: bytes,
        max_messages: int,
        max_bytes: int,
        delay: float,
        publisher: bytes = NO_PUBLISHER,
    ) -> None:
        self._topic = topic
        self._publisher = publisher
        self._prefix = frame_prefix(topic, Kind.BATCH, publisher=publisher)
        self._max_parts = 2 * max_messages  # a record header and a payload per message
        self.max_bytes = max_bytes - len(topic) - HEADER.size
        self.delay = delay
        self._parts: list[bytes] = []
        self._size = 0
        self._first_seq = 0
        self._since = 0.0
        self._ttl = 0.0

    def set_live(self, live: bool) -> None:
        """Flag the frames from now on as sent while the session is (or is not) live.

        Flush first: the pending messages were sent under the old flag.
        """
        assert not self._parts, "flush before changing the live flag"
        self._prefix = frame_prefix(self._topic, Kind.BATCH, live=live, publisher=self._publisher)

    def __len__(self) -> int:
        return len(self._parts) // 2

    def add(self, seq: int, sent_at: float, ttl: float, payload: bytes) -> bytes | None:
        """Add one message; return a frame to send now (the batch it completed or displaced)."""
        parts = self._parts
        size = self._size + _RECORD_SIZE + len(payload)
        if not parts:
            self._first_seq, self._since, self._ttl = seq, sent_at, ttl
        elif ttl != self._ttl or size > self.max_bytes:
            ready = self.flush()
            self.add(seq, sent_at, ttl, payload)  # starts the next batch; cannot complete it
            return ready
        parts.append(pack_record(sent_at, len(payload)))
        parts.append(payload)
        self._size = size
        if len(parts) >= self._max_parts or sent_at - self._since >= self.delay:
            return self.flush()
        return None

    def due(self, now: float) -> bool:
        """Whether the oldest message has waited ``delay`` seconds."""
        return bool(self._parts) and now - self._since >= self.delay

    def flush(self) -> bytes | None:
        """The pending messages as one frame (None when empty); the batch starts over."""
        if not self._parts:
            return None
        head = self._prefix + pack_tail(self._first_seq, self._since, self._ttl)
        frame = head + b"".join(self._parts)
        self._parts = []
        self._size = 0
        return frame
