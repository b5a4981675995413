"""Bounds of a publisher killed and restarted on its session: each instance accounted apart.

A subscriber's `radio.Stats` add up over both instances, so the harness splits
them at the stats it reported between the two: the first of its snapshots
(the follower's status lines, radio-sub's ``--stats`` lines) whose
``received`` equals what it yielded of the old instance. Every message of the
old instance was taken by then and none of the new one, so what was counted
lost up to there is the old instance's, and what was counted after is the new
one's. The new instance's accounting is exact; the old instance's tail that
was neither yielded nor counted (messages lost with it) may be left uncounted,
but must be *reported*: ``Stats.unknown_tails`` (publisher instances that
vanished without an END while heard, issue 17; read with ``.get``, 0 where the
core has no such field yet) is at least 1 then.
"""

from __future__ import annotations

from collections.abc import Iterator

from .check import Check, counted
from .record import Heard
from .scenario import Outcome


def split_at(heard: Heard, old: str) -> dict[str, float] | None:
    """The stats *heard*'s subscriber reported once it had taken all of stream *old*, none after.

    None when no snapshot fell between the two instances.
    """
    yielded = heard.sessions[old].count if old in heard.sessions else 0
    return next((s for s in heard.snapshots if s.get("received") == yielded), None)


def restart_checks(outcome: Outcome) -> Iterator[Check]:
    """Per subscriber: the new instance exact, the old one's unheard tail reported."""
    scenario = outcome.scenario
    if scenario.restart is None or len(outcome.sent) != 2:
        return
    old, new = outcome.sent
    title = scenario.title
    exact: dict[str, str] = {}
    tails: dict[str, str] = {}
    met_new = met_old = True
    for name, h in sorted(outcome.heard.items()):
        split = split_at(h, old)
        if split is None:
            exact[name] = tails[name] = "no stats between the instances"
            met_new = met_old = False
            continue
        counted_old = counted(split)
        counted_new = counted(h.stats) - counted_old
        heard_old = h.sessions[old].count if old in h.sessions else 0
        heard_new = h.sessions[new].count if new in h.sessions else 0
        difference = outcome.sent[new] - heard_new - counted_new
        exact[name] = f"{difference:+,}"
        met_new = met_new and difference == 0
        tail = outcome.sent[old] - heard_old - counted_old
        reported = h.stats.get("unknown_tails", 0)
        tails[name] = f"{tail:,} (unknown_tails {reported})"
        met_old = met_old and tail >= 0 and (tail == 0 or reported >= 1)
    yield Check(
        title,
        "accounted",
        "new instance: sent - (received + counted lost after the old one's last message)",
        ", ".join(f"{name} {value}" for name, value in exact.items()),
        "0 each",
        met_new,
    )
    yield Check(
        title,
        "old_tail",
        "old instance: neither yielded nor counted (reported in Stats.unknown_tails)",
        ", ".join(f"{name} {value}" for name, value in tails.items()),
        ">= 0 each; if > 0, unknown_tails >= 1",
        met_old,
    )
    for event in ("publisher_restarted", "sequence_repeated", "publisher_changed"):
        seen = {name: h.events.get(event, 0) for name, h in sorted(outcome.heard.items())}
        yield Check(
            title,
            "info",
            f"{event} logged",
            ", ".join(f"{name} {count}" for name, count in seen.items()),
            "—",
            None,
        )
