"""A subscriber's loss accounting: each message not yielded counted once, by one reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Final

from radio.core.dial import NO_BASELINE, Heard
from radio.errors import MalformedMessageError
from radio.logs import RateLimitedLog, get_logger
from radio.message import Loss, Message, Stats

log = get_logger()

MAX_GAP: Final[int] = 2**32
"""A larger jump in seq is a restart (or a forged frame), not that many lost messages."""

MAX_LOSS_RATE: Final[float] = 10_000_000.0
"""Most messages a second a session is taken to carry: a gap larger than this rate times
the time since the session was last heard of (plus `LOSS_SLACK`) is implausible, a
forged frame or beacon or a flipped bit, and is logged, not counted."""

LOSS_SLACK: Final[int] = 65_536
"""Messages a gap may hold beyond `MAX_LOSS_RATE` times the time since the session was
last heard of (what a burst between two reads can lose)."""


class Ledger:
    """Keeps `stats` and each heard session's last seq in step; logs drops rate-limited.

    It is the only writer of `stats`: the tuner, the ready queue and the drivers
    report what happened, by calling it.

    Gaps are counted up to a seq and the session's last seq moves there, so the
    same loss learned twice (a jump, then a beacon; an END, then a beacon's ended
    list) counts once; expired and fenced messages move it too, so they never
    count as gaps as well.
    """

    def __init__(self, channel: str, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.stats = Stats()
        self._monotonic = monotonic
        self._limited = RateLimitedLog(log.bind(channel=channel))

    def received(self, count: int) -> None:
        """*count* messages decoded, to be yielded."""
        self.stats.received += count

    def conflated(self, count: int) -> None:
        """*count* messages replaced by a newer one (``conflate=True``) before they were read."""
        self.stats.conflated += count

    def snapshot(self, conflicts: int, clock_offset: float) -> Stats:
        """A copy of the counters, with the beacons' *conflicts* and the *clock_offset*."""
        return replace(self.stats, conflicts=conflicts, clock_offset=clock_offset)

    def jump(self, heard: Heard, seq: int) -> None:
        """*seq* does not follow the last one: a baseline, a gap, or a restart."""
        last = heard.last_seq
        if last == NO_BASELINE:
            return  # the first message heard since tuning in
        if last < seq <= last + MAX_GAP:
            self.lost(heard, seq - 1)
        else:
            self._limited.warning(
                "sequence_restarted", session=heard.session, seq=seq, last_seq=last
            )

    def lost(self, heard: Heard, up_to: int) -> None:
        """Messages after the last one heard, up to seq *up_to*, were lost: count them once.

        At most what the session could have carried since it was last heard of
        (`MAX_LOSS_RATE`, `LOSS_SLACK`): a larger claim is logged as
        ``sequence_implausible`` and moves nothing.
        """
        missing = up_to - heard.last_seq
        if missing <= 0:
            return
        now = self._monotonic()
        if missing > min(MAX_GAP, MAX_LOSS_RATE * max(0.0, now - heard.heard_at) + LOSS_SLACK):
            self._limited.warning(
                "sequence_implausible", session=heard.session, seq=up_to, last_seq=heard.last_seq
            )
            return
        self.stats.gaps += missing
        self._limited.warning(
            "messages_lost", session=heard.session, missing=missing, after_seq=heard.last_seq
        )
        heard.last_seq = up_to
        heard.heard_at = now

    def oversize(self, heard: Heard | None, seq: int, count: int, limit: int) -> None:
        """A frame over *limit* bytes dropped: its *count* messages from *seq*, once each.

        Its session's last seq (*heard*, when it is one we hear) moves past it, so
        it is not counted as a gap too, after the messages missing before it are
        counted as lost; *seq* 0 means its header was unreadable.
        """
        if heard is not None and seq and seq + count - 1 > heard.last_seq:
            if heard.last_seq >= 0:
                self.lost(heard, seq - 1)
            heard.last_seq = max(heard.last_seq, seq + count - 1)  # or a baseline
        self.stats.oversize += count
        self._limited.warning("frame_oversize", dropped=count, max_message_size=limit)

    def expired(self, session: str, seq: int, ttl: float) -> None:
        """One message older than its TTL."""
        self.stats.expired += 1
        self._limited.warning("message_expired", session=session, seq=seq, ttl=ttl)

    def fence(self, heard: Heard, seq: int, count: int) -> None:
        """*count* messages of a heard session, from *seq*, that must not be yielded.

        Those missing before them are counted as lost first (each message once).
        """
        self.stats.fenced += count
        if seq > heard.last_seq >= 0:
            self.lost(heard, seq - 1)
            heard.last_seq = max(heard.last_seq, seq + count - 1)
        self._limited.warning("message_fenced", session=heard.session, seq=seq)

    def fence_other(self, session: str, seq: int) -> None:
        """One frame of a session not heard (queued or read ahead before a tune-out)."""
        self.stats.fenced += 1
        self._limited.warning("message_fenced", session=session, seq=seq)

    def malformed(self, frame: bytes, exc: MalformedMessageError) -> None:
        """One frame that is not a valid radio frame."""
        self.stats.malformed += 1
        self._limited.warning("message_malformed", reason=str(exc), size=len(frame))

    def retract(self, message: Message, reason: Loss) -> None:
        """Count a message taken earlier as dropped after all: `Loss.EXPIRED` or `Loss.FENCED`."""
        if reason is Loss.EXPIRED:
            self.stats.expired += 1
            self._limited.warning("message_expired", session=message.session, seq=message.seq)
        elif reason is Loss.FENCED:
            self.stats.fenced += 1
            self._limited.warning("message_fenced", session=message.session, seq=message.seq)
        else:
            raise ValueError(f"a message taken is retracted as expired or fenced, not {reason}")
        self.stats.received -= 1
