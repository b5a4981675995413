"""One row per adversity scenario: what was measured, the bound it is held to, met or not."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, Protocol

POLL_S: Final[float] = 0.002
"""How often `waited` looks at its condition."""


@dataclass(frozen=True)
class Row:
    """A scenario's line in the table of ``make adversity``."""

    scenario: str
    figure: str
    bound: str
    met: bool


class Bounded(Protocol):
    """The figures of one scenario: whether its bound is met, and its table row."""

    @property
    def met(self) -> bool: ...

    def row(self) -> Row: ...


def waited(condition: Callable[[], object], timeout: float) -> float:
    """Seconds until *condition* held, polled every `POLL_S`; inf if not within *timeout*."""
    start = time.monotonic()
    while not condition():
        took = time.monotonic() - start
        if took > timeout:
            return float("inf")
        time.sleep(POLL_S)  # sync-ok: polling a condition with a deadline
    return time.monotonic() - start


def seconds(value: float) -> str:
    """*value* seconds for the table: milliseconds below 1 s, ``never`` for inf."""
    if value == float("inf"):
        return "never"
    return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.3g} s"


def table(rows: Iterable[Row]) -> list[str]:
    """The Markdown lines of the scenario table."""
    return [
        "| scenario | figure | bound | |",
        "|---|---|---|---|",
        *(
            f"| {row.scenario} | {row.figure} | {row.bound} "
            f"| {'met' if row.met else '**NOT met**'} |"
            for row in rows
        ),
    ]


def broken(rows: Iterable[Row]) -> list[str]:
    """The scenarios whose bound is not met, each with its figure and bound."""
    return [f"{row.scenario}: {row.figure} (bound: {row.bound})" for row in rows if not row.met]
