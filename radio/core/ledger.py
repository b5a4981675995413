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
"""A larger jump in seq is a forged or corrupted frame, not that many lost messages."""

MAX_LOSS_RATE: Final[float] = 10_000_000.0
"""Most messages a second a session is taken to carry: a gap larger than this rate times
the publisher-clock time between the last message heard and the frame that shows the
gap (plus `LOSS_SLACK`) is implausible, a forged frame or beacon or a flipped bit, and
is logged, not counted."""

LOSS_SLACK: Final[int] = 65_536
"""Messages a gap may hold beyond `MAX_LOSS_RATE` times that time (send times are
taken at the publisher's clock reading, which several messages may share)."""

TUNED_SLACK_S: Final[float] = 1.0
"""How far before the tune-in (on the publisher's clock, as estimated) a message heard
may have been sent: no honest frame of a session was sent before we tuned in to it."""

FUTURE_S: Final[float] = 2.0
"""A frame that shows a gap may be sent at most this far ahead of the publisher's clock
as estimated: one from further ahead is implausible (a forged or flipped time stamp)."""


class Ledger:
    """Keeps `stats` and each heard session's last seq in step; logs drops rate-limited.

    It is the only writer of `stats`: the tuner, the ready queue and the drivers
    report what happened, by calling it.

    Gaps are counted up to a seq and the session's last seq moves there, so the
    same loss learned twice (a jump, then a beacon; an END, then a beacon's ended
    list) counts once; expired and fenced messages move it too, so they never
    count as gaps as well.
    """

    def __init__(
        self,
        channel: str,
        publisher_now: Callable[[bytes], float] = lambda instance: float("inf"),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = Stats()
        self._publisher_now = publisher_now  # an instance's clock now, as estimated
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

    def jump(self, heard: Heard, seq: int, sent_at: float) -> bool:
        """*seq* (sent at *sent_at*) does not follow the last one: return whether to take it.

        Yes for a baseline (the first message heard since tuning in) and after a
        plausible gap (counted). Not for a seq at or before the last one (the
        same publisher instance never sends one again: a replay or a forgery) or
        implausibly far ahead (`lost`): that message is counted as fenced and
        moves nothing, so the honest ones after it go on.
        """
        last = heard.last_seq
        if last == NO_BASELINE or (last < seq and self.lost(heard, seq - 1, sent_at)):
            return True
        if seq <= last:
            self._limited.warning(
                "sequence_repeated", session=heard.session, seq=seq, last_seq=last
            )
            self._behind(heard, sent_at)
        self.fence_other(heard.session, seq)
        return False

    def lost(self, heard: Heard, up_to: int, sent_at: float) -> bool:
        """Messages after the last one heard, up to seq *up_to*, were lost: count them once.

        *sent_at* is the publisher-clock send time of the frame that shows it. At
        most what the session could have carried (`MAX_LOSS_RATE`, `LOSS_SLACK`)
        since the last message heard, by either clock: ours, since we last heard
        of it, or the publisher's, between the two send times when the frame is
        not from the future (`FUTURE_S`) and counting from no earlier than the
        tune-in (`TUNED_SLACK_S`: a stamp from the far past is forged); ours alone
        fails after a backlog read in several reads, the publisher's alone for a
        new instance.
        A larger claim is logged as ``sequence_implausible`` and moves nothing.
        Returns whether the claim was taken (or there was nothing to count).
        """
        missing = up_to - heard.last_seq
        if missing <= 0:
            return True
        now = self._monotonic()
        publisher_now = self._publisher_now(heard.instance)
        # A far-past stamp (forged) must not open a long span: nothing was sent before tune-in.
        tuned = publisher_now - (now - min(heard.since, heard.heard_at)) - TUNED_SLACK_S
        span = sent_at - max(heard.last_sent, tuned)
        if not (
            missing <= MAX_GAP
            and (
                missing <= MAX_LOSS_RATE * max(0.0, now - heard.heard_at) + LOSS_SLACK
                or (
                    heard.last_sent >= 0.0
                    and missing <= MAX_LOSS_RATE * max(0.0, span) + LOSS_SLACK
                    and sent_at <= publisher_now + FUTURE_S
                )
            )
        ):
            self._limited.warning(
                "sequence_implausible", session=heard.session, seq=up_to, last_seq=heard.last_seq
            )
            return False
        self.stats.gaps += missing
        self._limited.warning(
            "messages_lost", session=heard.session, missing=missing, after_seq=heard.last_seq
        )
        heard.last_seq, heard.heard_at = up_to, now
        heard.last_sent = max(heard.last_sent, sent_at)
        return True

    def oversize(
        self, heard: Heard | None, seq: int, count: int, sent_at: float, limit: int
    ) -> None:
        """A frame over *limit* bytes dropped: its *count* messages from *seq*, once each.

        Its session's last seq (*heard*, when it is one we hear) moves past it, so
        it is not counted as a gap too, after the messages missing before it are
        counted as lost; *seq* 0 means its header was unreadable.
        """
        past = heard is not None and seq and seq + count - 1 > heard.last_seq
        if (
            past
            and heard is not None
            and (heard.last_seq < 0 or self.lost(heard, seq - 1, sent_at))
        ):
            heard.last_seq = max(heard.last_seq, seq + count - 1)  # or a baseline
        self.stats.oversize += count
        self._limited.warning("frame_oversize", dropped=count, max_message_size=limit)

    def hears_from(self, heard: Heard, instance: bytes) -> bool:
        """Whether *heard*'s session may be heard from publisher *instance* now.

        Not from an instance it moved on from (its frames are stale); from a new
        one, which succeeds the instance heard so far (`succeeded`).
        """
        if instance in heard.retired:
            return False
        if instance != heard.instance:
            heard.last_seq = heard.last_for(instance)  # its HELLO said 0: we heard it begin
            self.succeeded(heard, instance)
        return True

    def welcomed(self, heard: Heard, instance: bytes, seq: int) -> bool:
        """Whether a HELLO of *instance* (saying *seq*) speaks for *heard*'s session.

        Yes from the instance heard, or when none is (it claims the session when
        it says it sent some: a HELLO saying 0 may come from a publisher that lacks
        it, behind a relay, or from one that dies before it opens it); from another
        one only when nothing was heard of the session yet and it says it sent some.
        """
        if instance in heard.retired:
            return False  # an instance it moved on from (or that ended it): not its word
        if not heard.instance or instance == heard.instance:
            if seq:
                heard.instance = instance
            return True
        if heard.last_seq > 0 or seq == 0:
            return False
        self.succeeded(heard, instance)
        return True

    def succeeded(self, heard: Heard, instance: bytes) -> None:
        """*heard*'s session goes on from another publisher *instance* (see `Heard.succeed`).

        When the one before had sent it something and no END said where it
        stopped, what it sent after the last message heard is unknowable: that
        is counted in ``unknown_tails`` and logged, never guessed into ``gaps``.
        """
        last_seq = heard.last_seq
        old = heard.succeed(instance, self._monotonic())
        if old and last_seq > 0:
            self.stats.unknown_tails += 1
            self._limited.warning(
                "publisher_restarted",
                session=heard.session,
                previous=old.hex(),
                publisher=instance.hex(),
                last_seq=last_seq,
            )

    def expired(self, session: str, seq: int, ttl: float) -> None:
        """One message older than its TTL."""
        self.stats.expired += 1
        self._limited.warning("message_expired", session=session, seq=seq, ttl=ttl)

    def fence(self, heard: Heard, seq: int, count: int, sent_at: float) -> None:
        """*count* messages of a heard session, from *seq*, that must not be yielded.

        Those missing before them are counted as lost first (each message once).
        """
        self.stats.fenced += count
        later = seq > heard.last_seq
        if later and heard.last_seq >= 0 and self.lost(heard, seq - 1, sent_at):
            heard.last_seq = max(heard.last_seq, seq + count - 1)
        if later:  # stale or not, the session carried it: a later gap is bounded from here
            heard.last_sent = max(heard.last_sent, sent_at)
        else:
            self._behind(heard, sent_at)
        self._limited.warning("message_fenced", session=heard.session, seq=seq)

    def _behind(self, heard: Heard, sent_at: float) -> None:
        """A frame at or before *heard*'s last seq, sent at *sent_at*: dropped, yet evidence.

        The message after the last seq was sent after it, so a gap shown later is
        bounded from its send time too (a forged seq far ahead, then the honest frames
        behind it: a second forgery may not count what they show was never sent). Not
        from a send time past the publisher's clock (`FUTURE_S`): forged.
        """
        if sent_at <= self._publisher_now(heard.instance) + FUTURE_S:
            heard.last_sent = max(heard.last_sent, sent_at)

    def fence_other(self, session: str, seq: int, count: int = 1) -> None:
        """A frame of a session not heard, or of an instance a heard session moved on from.

        One not heard was queued or read ahead before a tune-out; one of an instance
        moved on from counts its *count* messages.
        """
        self.stats.fenced += count
        self._limited.warning("message_fenced", session=session, seq=seq)

    def malformed(self, frame: bytes, exc: MalformedMessageError) -> None:
        """One frame that is not a valid radio frame."""
        self.stats.malformed += 1
        self._limited.warning("message_malformed", reason=str(exc), size=len(frame))

    def retract(self, message: Message, reason: Loss) -> None:
        """Count a message taken earlier as dropped after all: expired, fenced, or a gap.

        A gap (`Loss.GAPS`) is a message the subscriber's own high-water mark
        dropped: its application did not read, and the ready queue was full.
        """
        if reason is Loss.GAPS:
            self.stats.gaps += 1
            self._limited.warning(
                "messages_lost", session=message.session, missing=1, after_seq=message.seq - 1
            )
        elif reason is Loss.EXPIRED:
            self.stats.expired += 1
            self._limited.warning("message_expired", session=message.session, seq=message.seq)
        elif reason is Loss.FENCED:
            self.stats.fenced += 1
            self._limited.warning("message_fenced", session=message.session, seq=message.seq)
        else:
            raise ValueError(
                f"a message taken is retracted as a gap, expired, fenced: not {reason}"
            )
        self.stats.received -= 1
