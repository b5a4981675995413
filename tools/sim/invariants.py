"""The invariants, one function each: a violation is a sentence, None means it holds."""

from __future__ import annotations

from typing import Final, NamedTuple

from radio.core.ledger import LOSS_SLACK, MAX_LOSS_RATE
from radio.message import Message, Stats
from tools.sim.truth import Sent

TIME_SLACK_S: Final[float] = 1e-6
"""Float rounding allowed in time comparisons."""


class View(NamedTuple):
    """What a subscriber core looked like just before one step (public state only)."""

    sessions: frozenset[str]
    explicit: frozenset[str]  # tuned in to by name (the simulator's record), still heard
    following: bool
    live: str | None
    stats: Stats


def counted(stats: Stats) -> int:
    """Every message the subscriber dropped and counted, whatever the reason."""
    return stats.gaps + stats.expired + stats.fenced + stats.conflated + stats.oversize


def not_stale(
    message: Message,
    sent: Sent,
    before: View,
    *,
    interval_start: float | None,
    retuned: bool,
    ended_known: bool,
    follower_live: bool = True,
) -> str | None:
    """(1) Nothing of a session not heard now, ended, sent before a retune, or not live."""
    session = message.session
    if session not in before.sessions:
        return f"yielded {session} #{message.seq} while not hearing {session}"
    if ended_known:
        return f"yielded {session} #{message.seq} after learning {session} ended"
    if retuned and interval_start is not None and sent.true_at < interval_start - TIME_SLACK_S:
        return (
            f"yielded {session} #{message.seq} sent at {sent.true_at:.4f}, before the "
            f"re-tune at {interval_start:.4f}"
        )
    if follower_live and session not in before.explicit and not sent.live:
        return f"follower yielded {session} #{message.seq}, sent after it stopped being live"
    return None


def in_order(message: Message, sent: Sent, last_seq: int | None, seen: bool) -> str | None:
    """(2) No duplicate, and in order per session of one publisher instance."""
    if seen:
        return f"yielded {message.session} #{message.seq} (message {sent.id}) twice"
    if last_seq is not None and message.seq <= last_seq:
        return f"yielded {message.session} #{message.seq} after #{last_seq} (same instance)"
    return None


def faithful(message: Message, sent: Sent | None) -> str | None:
    """A yielded message is one that was sent, with the session and seq it was sent with."""
    if sent is None:
        return f"yielded {message.session} #{message.seq}, which nobody sent"
    if (sent.session, sent.seq) != (message.session, message.seq):
        return f"yielded {message.session} #{message.seq}, sent as {sent.session} #{sent.seq}"
    return None


def ttl_honoured(message: Message, sent: Sent, now: float, delay_bound: float) -> str | None:
    """(4) Nothing whose true age exceeds its TTL plus the one-way delay bound."""
    if not sent.ttl:
        return None
    age = now - sent.true_at
    if age > sent.ttl + delay_bound + TIME_SLACK_S:
        return (
            f"yielded {message.session} #{message.seq} at true age {age:.4f} s, "
            f"over ttl {sent.ttl:.3f} + delay bound {delay_bound:.4f}"
        )
    return None


def delivered_counted(delivered: int, before: Stats, after: Stats) -> str | None:
    """(3a) Each data message handed to the core is yielded or counted once, by one reason.

    *delivered* counts the records of heard sessions and the frames of others
    (the core counts a frame of a session it does not hear as one fenced message).
    """
    moved = after.received - before.received + counted(after) - counted(before)
    moved -= after.gaps - before.gaps
    if moved != delivered:
        return (
            f"handed {delivered} data messages to the core, which yielded or counted "
            f"{moved} (received {after.received - before.received}, expired "
            f"{after.expired - before.expired}, fenced {after.fenced - before.fenced}, "
            f"oversize {after.oversize - before.oversize})"
        )
    return None


def gaps_exact(expected: int, stats: Stats) -> str | None:
    """(3b) ``gaps`` is exactly the messages the core could know it missed, no more."""
    if stats.gaps != expected:
        return f"gaps {stats.gaps}, but {expected} messages were knowably missed"
    return None


def tails_reported(expected: int, stats: Stats) -> str | None:
    """(3d) Every publisher instance succeeded on a session without an END is reported.

    What it sent after the last message heard is unknowable: ``unknown_tails``
    says how many such tails there are, one per instance and session.
    """
    if stats.unknown_tails != expected:
        return f"unknown_tails {stats.unknown_tails}, but {expected} tails were unknowable"
    return None


def end_learned(ended: tuple[tuple[str, int], ...], sessions: frozenset[str]) -> str | None:
    """(9) A beacon of the publisher gone by that names a heard session as ended ends it.

    The publisher names a closed session in every beacon for two minutes (and
    repeats its END on the next three scheduled ones), so the subscriber learns
    an END it lost from the first of them it takes, not later.
    """
    still = sorted(name for name, _ in ended if name in sessions)
    if still:
        return f"still hears {', '.join(still)} after a beacon that says it ended"
    return None


def received_exact(yielded: int, stats: Stats) -> str | None:
    """(3c) ``received`` is exactly what was yielded."""
    if stats.received != yielded:
        return f"received {stats.received}, but {yielded} messages were yielded"
    return None


GAP_RATE_BOUND: Final[float] = MAX_LOSS_RATE
"""Messages per second a session could carry at most, as the core documents it
(`radio.core.ledger.MAX_LOSS_RATE`, with `LOSS_SLACK` more per step). What a forged or
corrupted frame may add to ``gaps`` is bounded by this rate times the time since the
session's last message heard (issue 17: bounded by what the session could have
carried); the simulator measures that time on the true clock, the core on the
publisher's."""


GAP_SLACK: Final[int] = LOSS_SLACK
"""What one step may add beyond the rate bound, as the core documents it."""


def gaps_bounded(added: int, bound: float) -> str | None:
    """(3b, hostile) One step adds no more gaps than the heard sessions could have carried."""
    if added > bound:
        return f"one step added {added} gaps; the sessions heard could have carried {bound:.0f}"
    return None


def expired_plausibly(expired: int, old_enough: int, handed: int) -> str | None:
    """(4, converse) Nothing counted expired whose true age is below TTL minus the slack.

    The core says how many messages of a step it counted expired, not which:
    *old_enough* is how many of the *handed* messages with a TTL were old enough to
    be (true age at least TTL minus the delay bound and the clocks' drift); more
    expired than that means a young one was.
    """
    if expired > old_enough:
        return (
            f"counted {expired} of {handed} messages expired, but only {old_enough} "
            f"were within the delay bound of their TTL"
        )
    return None


def inbox_rule(kind: str, heard_before: bool, yielded: int, gaps_added: int) -> str | None:
    """An inbox frame: never a BATCH, a last value only before anything was heard, no gaps."""
    if gaps_added:
        return f"an inbox {kind} added {gaps_added} gaps"
    if kind == "BATCH" and yielded:
        return f"a BATCH in an inbox yielded {yielded} messages"
    if heard_before and yielded:
        return f"a last value yielded {yielded} after the session was heard since tuning in"
    return None


def malformed_counted(what: str, before: Stats, after: Stats) -> str | None:
    """A frame the protocol calls malformed is counted as such (and acted on no further)."""
    if after.malformed == before.malformed:
        return f"{what} was not counted malformed"
    return None


def goes_by_one(
    accepted: bool, instance: int, goes_by: int | None, on_air: bool, before: View, after: View
) -> str | None:
    """(7) A follower goes by one publisher: another's beacons move nothing while it is on air."""
    if accepted and goes_by is not None and instance != goes_by and on_air:
        return f"took a beacon of publisher {instance} while going by {goes_by}, on air"
    if not accepted and (after.live != before.live or after.sessions != before.sessions):
        return f"a conflicting beacon of publisher {instance} moved it to {after.live}"
    return None
