"""The bounds each scenario must meet, measured from its `Outcome`: one `Check` a table row."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from radio.message import Loss

from .check import Check, per, unaccounted
from .checks_clock import clock_checks
from .checks_net import network_checks
from .checks_restart import restart_checks
from .record import Heard
from .scenario import MEMORY_BOUND, Outcome

KINDS: Final = (
    "stale",
    "duplicates",
    "order",
    "lossless",
    "accounted",
    "recovery",
    "presence_drop",
    "presence_back",
    "untouched",
    "memory",
    "ttl_old",
    "ttl_expired",
    "pause",
    "off_air",
    "old_tail",
)
"""Every kind of bound; `Check.kind` is one of these, or "info" for a figure with no bound."""

FULL_RUN_KINDS: Final = frozenset({"pause", "off_air", "old_tail"})
"""Kinds only the full run's scenarios measure (wall-clock steps, a restart)."""

__all__ = ["FULL_RUN_KINDS", "KINDS", "Check", "checks", "unaccounted"]


def _switch_losses(heard: dict[str, Heard], sent: dict[str, int]) -> str:
    """Per subscriber: the old stream's tail and the new stream's head it never heard."""
    parts = []
    for name, h in sorted(heard.items()):
        order = list(sent)
        tails = sum(sent[s] - h.sessions[s].last for s in order[:-1] if s in h.sessions)
        heads = sum(h.sessions[s].first - 1 for s in order[1:] if s in h.sessions)
        gaps = h.stats.get("gaps", 0)
        parts.append(f"{name}: tail {tails:,}, head {heads:,}, gaps counted {gaps:,}")
    return "; ".join(parts)


def _memory(outcome: Outcome) -> Check:
    """The publisher's growth once sending (each instance from its own start)."""
    runs: dict[Any, list[int]] = {}
    for status in outcome.trace:
        if float(status["mono"]) >= outcome.started:
            runs.setdefault(status.get("run", 1), []).append(int(status["rss"]))
    growth = max((max(rss) - rss[0] for rss in runs.values()), default=0)
    return Check(
        outcome.scenario.title,
        "memory",
        "publisher memory growth",
        f"{growth / 2**20:+.1f} MiB",
        f"<= {MEMORY_BOUND / 2**20:.0f} MiB",
        growth <= MEMORY_BOUND,
    )


def checks(outcome: Outcome) -> Iterator[Check]:
    """Every bound of *outcome*'s scenario, measured."""
    scenario = outcome.scenario
    title = scenario.title
    heard = outcome.heard
    sent = sum(outcome.sent.values())

    def check(kind: str, measured: str, value: str, bound: str, met: bool | None) -> Check:
        return Check(title, kind, measured, value, bound, met)

    sessions = {key.rsplit("@", 1)[0] for key in outcome.sent}
    streams = f"{len(sessions)}" + (
        f"; {len(outcome.sent)} publisher instances" if len(sessions) < len(outcome.sent) else ""
    )
    yield check("info", "messages sent (sessions)", f"{sent:,} ({streams})", "—", None)
    _, text = per(heard, lambda h: h.received)
    yield check("info", "messages heard", text, "—", None)
    for kind, measured, figure in (
        ("stale", "stale (session or publisher instance left behind)", lambda h: h.stale),
        ("duplicates", "duplicates", lambda h: h.duplicates),
        ("order", "out of order within a session", lambda h: h.reordered),
    ):
        total, _ = per(heard, figure)
        yield check(kind, measured, f"{total}", "0", total == 0)

    if scenario.restart is None:  # after a restart: per instance, see `restart_checks`
        differences = {name: unaccounted(h, sent) for name, h in sorted(heard.items())}
        yield check(
            "accounted",
            f"sent - (received + {' + '.join(Loss)})",
            ", ".join(f"{name} {diff:+,}" for name, diff in differences.items()),
            "0 each",
            all(diff == 0 for diff in differences.values()),
        )
    if len(outcome.sent) > 1:
        moment = "restart" if scenario.restart else "switch"
        yield check(
            "info", f"unheard at the {moment}", _switch_losses(heard, outcome.sent), "—", None
        )
    if scenario.loss_free:
        total, text = per(heard, lambda h: sent - h.received)
        yield check("lossless", "not heard on a loss-free path", text, "0 each", total == 0)
    yield _memory(outcome)
    yield from network_checks(outcome)
    yield from clock_checks(outcome)
    yield from restart_checks(outcome)
