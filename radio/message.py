"""What a subscriber yields (`Message`) and what it counts (`Stats`)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import NamedTuple


class Message(NamedTuple):
    """One message heard on a session.

    ``sent_at`` is wall time (seconds since the epoch): the publisher's send time on
    its monotonic clock plus its wall minus monotonic clock, from its latest beacon
    (before one, this machine's wall clock minus the message's estimated age); it is
    for display, TTLs are judged on monotonic clocks. ``ttl`` is in
    seconds, None when the message never expires; ``seq`` counts the session's
    messages from 1, so a jump tells how many were lost.
    """

    channel: str
    session: str
    seq: int
    sent_at: float
    ttl: float | None
    payload: bytes


class Loss(StrEnum):
    """Why a message of a heard session was not yielded: each names a `Stats` counter."""

    GAPS = "gaps"
    EXPIRED = "expired"
    FENCED = "fenced"
    CONFLATED = "conflated"
    OVERSIZE = "oversize"


@dataclass
class Stats:
    """What a subscriber heard and what it dropped, by reason.

    ``received``: messages heard and accepted; ``gaps``: messages missing from a session's
    sequence (dropped at a high-water mark, or sent while the subscriber was not
    heard); ``expired``: older than their TTL; ``fenced``: from a session the
    subscriber is not tuned in to (or queued before a re-tune, or sent after a
    newer session went live, for a follower); ``malformed``: frames that were not
    valid radio messages; ``conflated``: replaced by a newer one (``conflate=True``);
    ``oversize``: frames over the subscriber's ``max_message_size``.
    Each message sent on a heard session and not yielded is counted once, by one
    of these reasons.

    ``unknown_tails``: publisher instances that stopped sending a session without an
    END while it was heard, and were followed on it by another instance (a publisher
    killed and restarted under the same session name): what they sent after the last
    message heard is unknowable, so it is not in ``gaps``; each is also logged as
    ``publisher_restarted``.

    ``conflicts``: beacons of a second publisher on the channel, ignored while
    the one gone by is on air. ``clock_offset``: this machine's wall clock minus the
    publisher's wall clock (seconds), estimated from the publisher's beacons (each
    carries its wall clock) within the one-way delay; 0.0 before a beacon. It is for
    display and monitoring only: TTLs are judged on monotonic clocks, which wall-clock
    steps and skews do not move.
    """

    received: int = 0
    gaps: int = 0
    expired: int = 0
    fenced: int = 0
    malformed: int = 0
    conflated: int = 0
    oversize: int = 0
    unknown_tails: int = 0
    conflicts: int = 0
    clock_offset: float = 0.0

    @property
    def lost(self) -> int:
        """Messages of heard sessions not yielded, all reasons together (see `Loss`)."""
        return sum(getattr(self, loss.value) for loss in Loss)

    def copy(self) -> Stats:
        """Return a snapshot of the counters."""
        return replace(self)

    def as_dict(self) -> dict[str, int | float]:
        """Every counter by name, in the order they are declared (for logs and JSON)."""
        return {field.name: getattr(self, field.name) for field in fields(self)}
