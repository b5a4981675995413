"""What one subscriber heard, checked message by message: stale, duplicates, order, silences, age.

Pure: arrival times are passed in. Times are `time.monotonic()` seconds, one
clock for every namespace on the machine and never skewed by libfaketime
(FAKETIME_DONT_FAKE_MONOTONIC), so a payload stamped by the publisher tells a
message's true age whatever the subscriber's wall clock says.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any, Final

SILENCE_S: Final[float] = 0.25
"""A pause between two arrivals longer than this is a silence (messages flow every 0.5 ms)."""
PAYLOAD_BYTES: Final[int] = 100


def stamp(sent_mono: float, run: int = 1) -> bytes:
    """A payload carrying its send time on the shared monotonic clock and its publisher's run.

    *run* numbers the publisher instances of a scenario (1, then 2 after a restart).
    """
    return f"{sent_mono:.6f} {run} ".encode("ascii").ljust(PAYLOAD_BYTES, b"x")


def sent_time(payload: bytes) -> float:
    """The monotonic send time a `stamp` payload carries."""
    return float(payload.split(b" ", 1)[0])


def run_of(payload: bytes) -> int:
    """The publisher run a `stamp` payload carries."""
    return int(payload.split(b" ", 2)[1])


def stream(session: str, run: int) -> str:
    """What the harness tells apart: a session of one publisher instance, as ``session@run``.

    A restarted publisher reuses its session's name and counts seq from 1 again:
    to a subscriber that is another sequence, possibly stale, on the same topic.
    """
    return f"{session}@{run}"


@dataclass
class Tally:
    """One session as heard: first and last sequence number, how many, when first heard."""

    first: int
    last: int
    count: int
    first_at: float


@dataclass
class Recorder:
    """Checks each message a subscriber yields, in the order it yields them.

    Sessions are `stream` names (a publisher restarted on the same session is
    another one). Stale: a message of a session older than one already heard (a
    follower never goes back, nor to an instance gone by). Duplicate: a
    sequence number heard before in its session.
    Reordered: a lower sequence number than the last one heard, not a duplicate.
    ``too_old_s``: a message older than this on arrival is counted as too old.
    """

    too_old_s: float | None = None
    sessions: dict[str, Tally] = field(default_factory=dict)
    stale: int = 0
    duplicates: int = 0
    reordered: int = 0
    too_old: int = 0
    silences: list[tuple[float, float]] = field(default_factory=list)
    ages: list[float] = field(default_factory=list)
    _seen: dict[str, set[int]] = field(default_factory=dict)
    _last_arrival: float | None = None
    _oldest: tuple[float, float] = (-1.0, 0.0)  # (age, arrival) of the oldest yielded

    def add(self, session: str, seq: int, sent_mono: float, arrived: float) -> None:
        """Record one message of *session* (a `stream`) yielded at *arrived*."""
        if self._last_arrival is not None and arrived - self._last_arrival > SILENCE_S:
            self.silences.append((self._last_arrival, arrived))
        self._last_arrival = arrived
        age = arrived - sent_mono
        self.ages.append(age)
        if age > self._oldest[0]:
            self._oldest = (age, arrived)
        if self.too_old_s is not None and age > self.too_old_s:
            self.too_old += 1
        tally = self.sessions.get(session)
        if tally is None:
            self.sessions[session] = Tally(seq, seq, 1, arrived)
            self._seen[session] = {seq}
            return
        if session != next(reversed(self.sessions)):
            self.stale += 1
            return
        seen = self._seen[session]
        if seq in seen:
            self.duplicates += 1
            return
        if seq < tally.last:
            self.reordered += 1
        seen.add(seq)
        tally.count += 1
        tally.last = max(tally.last, seq)

    @property
    def received(self) -> int:
        """Messages yielded and not stale or duplicated."""
        return sum(tally.count for tally in self.sessions.values())

    def summary(self) -> dict[str, Any]:
        """Everything recorded, as JSON-ready data (ages as median and maximum)."""
        return {
            "sessions": {name: vars(tally) for name, tally in self.sessions.items()},
            "stale": self.stale,
            "duplicates": self.duplicates,
            "reordered": self.reordered,
            "too_old": self.too_old,
            "silences": self.silences,
            "age_median": statistics.median(self.ages) if self.ages else None,
            "age_max": max(self.ages) if self.ages else None,
            "age_max_at": self._oldest[1] if self.ages else None,
            "last_arrival": self._last_arrival,
        }


@dataclass(frozen=True)
class Heard:
    """A subscriber's `Recorder.summary` and final `radio.Stats`, as the harness reads them.

    ``snapshots``: its stats as it reported them along the way, in order;
    ``events``: how many times it logged each event.
    """

    sessions: dict[str, Tally]
    stale: int
    duplicates: int
    reordered: int
    too_old: int
    silences: list[tuple[float, float]]
    age_median: float | None
    age_max: float | None
    last_arrival: float | None
    stats: dict[str, int]
    age_max_at: float | None = None
    """When the oldest message yielded arrived."""
    snapshots: list[dict[str, float]] = field(default_factory=list)
    events: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        summary: dict[str, Any],
        stats: dict[str, int],
        snapshots: list[dict[str, float]] | None = None,
        events: dict[str, int] | None = None,
    ) -> Heard:
        """Read a summary (as `Recorder.summary` made it, through JSON) and the stats."""
        return cls(
            sessions={name: Tally(**tally) for name, tally in summary["sessions"].items()},
            stale=summary["stale"],
            duplicates=summary["duplicates"],
            reordered=summary["reordered"],
            too_old=summary["too_old"],
            silences=[(start, end) for start, end in summary["silences"]],
            age_median=summary["age_median"],
            age_max=summary["age_max"],
            last_arrival=summary["last_arrival"],
            stats=stats,
            age_max_at=summary.get("age_max_at"),
            snapshots=snapshots or [],
            events=events or {},
        )

    @property
    def received(self) -> int:
        """Messages yielded and not stale or duplicated."""
        return sum(tally.count for tally in self.sessions.values())

    def heard_again(self, since: float) -> float | None:
        """Seconds from *since* to the first arrival after it (None: nothing arrived after)."""
        for start, end in self.silences:
            if start <= since < end:
                return end - since
        if self.last_arrival is not None and self.last_arrival > since:
            return 0.0  # no silence spans *since*: messages kept arriving
        return None

    def silent_between(self, start: float, end: float) -> float:
        """The longest silence overlapping [start, end] (0 when messages kept flowing)."""
        return max((b - a for a, b in self.silences if a < end and b > start), default=0.0)
