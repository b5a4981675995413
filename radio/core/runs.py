"""The runs of a read's frames as pure functions: plain DATA runs, plain batches, size cuts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from radio.core.wire import (
    HEADER,
    LEAD,
    LIVE,
    MAX_BATCH_MESSAGES,
    TAIL,
    Kind,
    decode_records,
    is_head_of,
    parts_size,
)
from radio.errors import MalformedMessageError
from radio.message import Message

_HEADER_SIZE: Final[int] = HEADER.size
_LEAD_SIZE: Final[int] = LEAD.size
_INF: Final[float] = float("inf")
_LAST_FIRST_SEQ: Final[int] = 2**64 - MAX_BATCH_MESSAGES  # a batch may start below it
_unpack_tail = TAIL.unpack_from
_new_tuple = tuple.__new__


def split_oversize(frames: list[bytes], limit: int) -> list[tuple[list[bytes], bytes | None]]:
    """Cut *frames* at each message over *limit* bytes: ``(frames before it, its head)`` pairs.

    A two-part message (a head and the part it announces) is weighed whole, as
    `parts_size` says, and left out whole; the last pair holds the frames after the
    last one left out, and None.
    """
    cuts: list[tuple[list[bytes], bytes | None]] = []
    run: list[bytes] = []
    index, count = 0, len(frames)
    while index < count:
        frame = frames[index]
        index += 1
        parted = index < count and is_head_of(frame, frames[index])
        size = parts_size(frame, frames[index]) if parted else len(frame)
        if size <= limit:
            run += frames[index - 1 : index + 1] if parted else (frame,)
        else:
            cuts.append((run, frame))
            run = []
        if parted:
            index += 1  # its payload part went with it
    cuts.append((run, None))
    return cuts


class Cursor:
    """An iterator over a read's frames that knows where it is.

    The careful path takes a two-part message's payload from it, and the fast path
    goes on after it.
    """

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self.index = 0

    def __iter__(self) -> Cursor:
        return self

    def __next__(self) -> bytes:
        if self.index >= len(self.frames):
            raise StopIteration
        frame = self.frames[self.index]
        self.index += 1
        return frame


Run = Callable[
    [
        list[bytes], int, bytes, str, str, int, float, float, float, float, float,
        Callable[[], float], Callable[[Message], object],
    ],
    tuple[int, int, float, int],
]  # fmt: skip
"""`take_run`'s signature, which its C twin in ``radio._hot`` shares."""

Continuation = tuple[
    bytes, str, str, int, float, float, float, float, float, Callable[[], float]
]  # fmt: skip
"""`take_run`'s arguments from *lead* to *clock*: where a run may go on (`Tuner.continuation`)."""


def take_run(
    frames: list[bytes],
    index: int,
    lead: bytes,
    channel: str,
    session: str,
    last: int,
    last_sent: float,
    skew: float,
    watch: float,
    due: float,
    base: float,
    clock: Callable[[], float],
    out: Callable[[Message], object],
) -> tuple[int, int, float, int]:
    """Pass on the frames from *index* that are the plain next DATA of *lead*; stop at another.

    `Tuner.run` by default; ``radio._hot.take_run`` is its C twin, held to the same
    results by the tests (tests/test_hot.py). From ``frames[index]`` on, each frame
    that starts with *lead*, has a valid tail, needs no clock sample (its age is not
    under *watch* and it arrives before *due*: `radio.core.air.ClockOffset.wants`
    says no), is the next seq after *last* and has not expired goes to *out*
    as a `Message`, exactly as `Tuner._take` would make it; and so does each
    record of a plain BATCH frame of the same lead (its kind BATCH, the same LIVE
    flag: the next seq, no TTL, no sample in doubt, every record well formed),
    as `Tuner._careful` would pass them on. Returns the index of the first frame
    not taken (the tuner handles it the way it handles any), the last seq and
    send time taken, and how many messages were taken.
    """
    count = len(frames)
    offset = len(lead)
    body = offset - _LEAD_SIZE + _HEADER_SIZE
    kind_at = offset - _LEAD_SIZE + 1
    batch_lead = (
        lead[:kind_at] + bytes(((lead[kind_at] & LIVE) | Kind.BATCH,)) + lead[kind_at + 1 :]
    )
    taken = 0
    while index < count:
        frame = frames[index]
        if last < 0 or len(frame) < body:
            break
        batch = not frame.startswith(lead)
        if batch and not frame.startswith(batch_lead):
            break
        seq, sent_at, ttl = _unpack_tail(frame, offset)
        if not 0.0 <= sent_at < _INF or not 0.0 <= ttl < _INF or seq != last + 1:
            break
        if batch:
            if ttl or watch == _INF or seq >= _LAST_FIRST_SEQ:
                break  # the tuner's: its records one by one (`Tuner._careful`)
            try:
                number, last_sent = take_batch(frame, body, seq, channel, session, base, out)
            except MalformedMessageError:
                break  # the tuner counts it
            index += 1
            last = seq + number - 1
            taken += number
            continue
        age = 0.0
        if ttl or watch == _INF:
            arrived = clock()
            age = arrived - sent_at
            if age < watch or arrived >= due or (ttl and age - skew > ttl):
                break  # a sample to take (`ClockOffset.wants`), or expired: the tuner's
        index += 1
        last, last_sent = seq, sent_at
        taken += 1
        out(_new_tuple(Message, (channel, session, seq, sent_at + base, ttl or None, frame[body:])))
    return index, last, last_sent, taken


def take_batch(
    frame: bytes,
    offset: int,
    seq: int,
    channel: str,
    session: str,
    base: float,
    out: Callable[[Message], object],
) -> tuple[int, float]:
    """Pass on every record of a BATCH *frame* (from *offset*) as messages *seq*, *seq* + 1, ...

    `Tuner.batch` by default; ``radio._hot.take_batch`` is its C twin, held to the
    same results by the tests. Raises `MalformedMessageError` (passing on none) as
    `decode_records` does; returns how many it passed on and the last one's send time.
    """
    records = decode_records(frame, offset)
    for number, (sent_at, payload) in enumerate(records, seq):
        out(_new_tuple(Message, (channel, session, number, sent_at + base, None, payload)))
    return len(records), records[-1][0]


Batch = Callable[[bytes, int, int, str, str, float, Callable[[Message], object]], tuple[int, float]]
"""`take_batch`'s signature, which its C twin in ``radio._hot`` shares."""
