"""The bounds each scenario must meet, measured from its `Outcome`: one `Check` a table row."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from radio.message import Loss

from .record import Heard
from .scenario import (
    HOP_DELAY_S,
    MEMORY_BOUND,
    RATE,
    RECOVERY_BOUND_S,
    TTL_MARGIN_S,
    Outcome,
    hops,
)

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
)
"""Every kind of bound; `Check.kind` is one of these, or "info" for a figure with no bound."""


@dataclass(frozen=True)
class Check:
    """One measured figure of one scenario, its bound, and whether the bound held."""

    scenario: str
    kind: str
    measured: str
    value: str
    bound: str
    met: bool | None  # None: a figure reported, not bounded

    def row(self) -> str:
        """The Markdown table row."""
        met = "—" if self.met is None else ("yes" if self.met else "**no**")
        return f"| {self.scenario} | {self.measured} | {self.value} | {self.bound} | {met} |"


def _ms(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds * 1000:,.0f} ms"


def _per(heard: dict[str, Heard], figure: Callable[[Heard], int]) -> tuple[int, str]:
    values = {name: figure(h) for name, h in sorted(heard.items())}
    return sum(values.values()), ", ".join(f"{name} {value:,}" for name, value in values.items())


def unaccounted(heard: Heard, sent: int) -> int:
    """Messages sent while *heard*'s subscriber listened that it neither yielded nor counted.

    Every subscriber was a listener before the first message was sent and
    followed every session, so each message of every session counts once:
    received, or lost for one of the reasons of `radio.message.Loss`.
    """
    stats = heard.stats
    return sent - stats.get("received", 0) - sum(stats.get(loss.value, 0) for loss in Loss)


def _switch_losses(heard: dict[str, Heard], sent: dict[str, int]) -> str:
    """Per subscriber: the old session's tail and the new session's head it never heard."""
    parts = []
    for name, h in sorted(heard.items()):
        order = list(sent)
        tails = sum(sent[s] - h.sessions[s].last for s in order[:-1] if s in h.sessions)
        heads = sum(h.sessions[s].first - 1 for s in order[1:] if s in h.sessions)
        counted = h.stats.get("gaps", 0)
        parts.append(f"{name}: tail {tails:,}, head {heads:,}, gaps counted {counted:,}")
    return "; ".join(parts)


def _first_below(
    trace: list[dict[str, object]], since: float, until: float | None, target: int
) -> float | None:
    for status in trace:
        mono = float(status["mono"])  # type: ignore[arg-type]
        if mono < since or (until is not None and mono > until):
            continue
        if int(status["listeners"]) <= target:  # type: ignore[call-overload]
            return mono - since
    return None


def _first_at_least(trace: list[dict[str, object]], since: float, target: int) -> float | None:
    for status in trace:
        mono = float(status["mono"])  # type: ignore[arg-type]
        if mono >= since and int(status["listeners"]) >= target:  # type: ignore[call-overload]
            return mono - since
    return None


def checks(outcome: Outcome) -> Iterator[Check]:
    """Every bound of *outcome*'s scenario, measured."""
    scenario = outcome.scenario
    title = scenario.title
    heard = outcome.heard
    sent = sum(outcome.sent.values())
    listeners = len(heard)

    def check(kind: str, measured: str, value: str, bound: str, met: bool | None) -> Check:
        return Check(title, kind, measured, value, bound, met)

    yield check("info", "messages sent (sessions)", f"{sent:,} ({len(outcome.sent)})", "—", None)
    total, text = _per(heard, lambda h: h.received)
    yield check("info", "messages heard", text, "—", None)
    for kind, measured, figure in (
        ("stale", "stale (session left behind)", lambda h: h.stale),
        ("duplicates", "duplicates", lambda h: h.duplicates),
        ("order", "out of order within a session", lambda h: h.reordered),
    ):
        total, text = _per(heard, figure)
        yield check(kind, measured, f"{total}", "0", total == 0)

    differences = {name: unaccounted(h, sent) for name, h in sorted(heard.items())}
    yield check(
        "accounted",
        f"sent - (received + {' + '.join(Loss)})",
        ", ".join(f"{name} {diff:+,}" for name, diff in differences.items()),
        "0 each",
        all(diff == 0 for diff in differences.values()),
    )
    if len(outcome.sent) > 1:
        yield check("info", "unheard at the switch", _switch_losses(heard, outcome.sent), "—", None)
    if scenario.loss is None and scenario.cut is None and not scenario.freeze_s:
        total, text = _per(heard, lambda h: sent - h.received)
        yield check("lossless", "not heard on a loss-free path", text, "0 each", total == 0)

    growth = max(int(s["rss"]) for s in outcome.trace if float(s["mono"]) >= outcome.started)
    before = next(int(s["rss"]) for s in outcome.trace if float(s["mono"]) >= outcome.started)
    yield check(
        "memory",
        "publisher memory growth",
        f"{(growth - before) / 2**20:+.1f} MiB",
        f"<= {MEMORY_BOUND / 2**20:.0f} MiB",
        growth - before <= MEMORY_BOUND,
    )

    cut = scenario.cut
    if cut is not None:
        cut_hosts = {"c", "d"} if cut == "ab" else {cut[1]}
        behind = [name for name, host in outcome.hosts.items() if host in cut_hosts]
        target = listeners - len(behind)
        dropped = _first_below(outcome.trace, outcome.fault_at, outcome.switched_at, target)
        yield check(
            "presence_drop",
            f"publisher count {listeners} → {target} after the cut",
            _ms(dropped),
            f"<= {RECOVERY_BOUND_S:g} s",
            dropped is not None and dropped <= RECOVERY_BOUND_S,
        )
        back = _first_at_least(outcome.trace, outcome.healed_at, listeners)
        yield check(
            "presence_back",
            f"publisher count back to {listeners} after the heal",
            _ms(back),
            f"<= {RECOVERY_BOUND_S:g} s",
            back is not None and back <= RECOVERY_BOUND_S,
        )
        again = {name: heard[name].heard_again(outcome.healed_at) for name in sorted(behind)}
        worst = max((v for v in again.values() if v is not None), default=None)
        never = [name for name, value in again.items() if value is None]
        yield check(
            "recovery",
            "subscribers heard again after the heal (slowest)",
            _ms(worst) + (f"; never: {', '.join(never)}" if never else ""),
            f"<= {RECOVERY_BOUND_S:g} s",
            not never and worst is not None and worst <= RECOVERY_BOUND_S,
        )

    faulty = {scenario.loss[0]} if scenario.loss else ({cut} if cut else set())
    if faulty and not faulty & {"ab"}:
        spared = {"d"} if faulty == {"bc"} else {"c"}
        for name in sorted(n for n, host in outcome.hosts.items() if host in spared):
            h = heard[name]
            pause = h.silent_between(outcome.fault_at, outcome.healed_at)
            lost = sent - h.received
            yield check(
                "untouched",
                f"{name} (unaffected host): lost, longest pause during the fault",
                f"{lost:,}, {_ms(pause)}",
                "0, none over 250 ms",
                lost == 0 and pause == 0.0,
            )
        if scenario.loss:
            hit = {n: h for n, h in heard.items() if outcome.hosts[n] not in spared}
            total, text = _per(hit, lambda h: h.stats.get("gaps", 0))
            yield check("info", "gaps counted behind the lossy cable", text, "—", None)

    if scenario.ttl is not None:
        ttl = scenario.ttl
        for name in sorted(heard):
            host = outcome.hosts[name]
            h = heard[name]
            skew = scenario.skew_s.get(host, 0.0)
            label = f"{name} (clock {skew:+g} s)"
            limit = ttl + hops(host) * HOP_DELAY_S + TTL_MARGIN_S
            yield check(
                "ttl_old",
                f"{label}: delivered older than TTL + delay + 50 ms",
                f"{h.too_old:,} (oldest {_ms(h.age_max)})",
                f"0 (<= {_ms(limit)})",
                h.too_old == 0,
            )
            allowed = int(RATE * (scenario.freeze_s + 0.5))
            expired = h.stats.get("expired", 0)
            yield check(
                "ttl_expired",
                f"{label}: expired (only those queued while frozen may be)",
                f"{expired:,} of {sent:,}",
                f"<= {allowed:,}",
                expired <= allowed,
            )
