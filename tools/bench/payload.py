"""Benchmark payloads: a kind byte, the send time, padding to the wanted size."""

from __future__ import annotations

import struct
import time
from typing import Final

WARMUP: Final[bytes] = b"W"
"""Kind of a message sent until every subscriber has heard one (not measured)."""
DATA: Final[bytes] = b"D"
"""Kind of a measured message."""

_STAMP: Final = struct.Struct("!cq")
MIN_SIZE: Final[int] = _STAMP.size
"""Smallest payload: kind and a 64-bit monotonic timestamp in nanoseconds."""


def make(kind: bytes, size: int, sent_ns: int | None = None) -> bytes:
    """A payload of *size* bytes (at least `MIN_SIZE`) stamped now or at *sent_ns*."""
    stamp = _STAMP.pack(kind, time.monotonic_ns() if sent_ns is None else sent_ns)
    return stamp + b"\0" * (max(size, MIN_SIZE) - MIN_SIZE)


def read(payload: bytes) -> tuple[bytes, int]:
    """The kind and the send time (CLOCK_MONOTONIC, shared by all processes of a host)."""
    kind, sent_ns = _STAMP.unpack_from(payload)
    return kind, sent_ns
