"""One measured bound (`Check`, a table row) and the small helpers every group of bounds shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from radio.message import Loss

from .record import Heard


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


def ms(seconds: float | None) -> str:
    """A duration as the table shows it: ``1,234 ms``, or ``never``."""
    return "never" if seconds is None else f"{seconds * 1000:,.0f} ms"


def per(heard: dict[str, Heard], figure: Callable[[Heard], int]) -> tuple[int, str]:
    """*figure* of every subscriber: the total, and ``name value, ...`` in name order."""
    values = {name: figure(h) for name, h in sorted(heard.items())}
    return sum(values.values()), ", ".join(f"{name} {value:,}" for name, value in values.items())


def counted(stats: Mapping[str, float]) -> int:
    """Messages a subscriber's stats count as lost, every reason of `radio.message.Loss`."""
    return int(sum(stats.get(loss.value, 0) for loss in Loss))


def unaccounted(heard: Heard, sent: int) -> int:
    """Messages sent while *heard*'s subscriber listened that it neither yielded nor counted.

    Every subscriber was a listener before the first message was sent and
    followed every session, so each message of every session counts once:
    received, or lost for one of the reasons of `radio.message.Loss`.
    """
    return sent - heard.stats.get("received", 0) - counted(heard.stats)
