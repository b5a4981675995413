"""Hostile-load measurement of full subscribers: N processes that stop reading, none aborts."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Final

from tools import child_env
from tools.soak.bounds import Row
from tools.soak.stalled_sub import SCENARIOS, SENT

RUN_DEADLINE_S: Final[float] = 60.0
"""Longest one stalled subscriber's process may take (it takes a few seconds)."""


@dataclass(frozen=True)
class Run:
    """One process: its scenario, exit status and what its subscriber counted."""

    scenario: str
    returncode: int  # negative: killed by that signal (-6: SIGABRT)
    taken: int  # messages taken off the socket while the application did not read
    received: int
    gaps: int
    detail: str = ""  # the last line of a failed process's stderr (libzmq names its assertion)

    @property
    def normal(self) -> bool:
        return self.returncode == 0 and self.received + self.gaps == SENT == self.taken


@dataclass(frozen=True)
class FullFigures:
    """Every run of every scenario."""

    runs: tuple[Run, ...]

    @property
    def aborted(self) -> int:
        return sum(run.returncode == -signal.SIGABRT for run in self.runs)

    @property
    def normal(self) -> int:
        return sum(run.normal for run in self.runs)

    @property
    def met(self) -> bool:
        return self.normal == len(self.runs)

    def row(self) -> Row:
        runs = len(self.runs)
        exited = sum(run.returncode == 0 for run in self.runs)
        gaps = sorted(run.gaps for run in self.runs if run.returncode == 0)
        spread = f"{gaps[0]:,}-{gaps[-1]:,}" if gaps else "none"
        return Row(
            f"a full subscriber (`hwm=10`, not read) while its publisher closes, and one "
            f"stalled past the heartbeat timeout then read; {runs} processes",
            f"{exited} of {runs} exited normally, {self.aborted} aborted (SIGABRT); "
            f"{self.normal} of {runs} took all {SENT:,} off the socket, each received or "
            f"counted as a gap (gaps {spread})"
            + "".join(f"; {run.scenario}: {run.detail}" for run in self.runs if run.detail)[:400],
            "every process exits normally, every message received or counted as a gap",
            self.met,
        )


def full_subscribers(runs: int = 5) -> FullFigures:
    """Run each scenario of `tools.soak.stalled_sub` *runs* times, both scenarios at once."""
    done: list[Run] = []
    for _ in range(runs):
        procs = [
            (
                scenario,
                subprocess.Popen(  # noqa: S603 - this interpreter, radio's own module
                    [sys.executable, "-m", "tools.soak.stalled_sub", scenario],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=child_env(),
                ),
            )
            for scenario in SCENARIOS
        ]
        for scenario, proc in procs:
            try:
                out, err = proc.communicate(timeout=RUN_DEADLINE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            done.append(_run(scenario, proc.returncode, out, err))
    return FullFigures(tuple(done))


def _run(scenario: str, returncode: int, out: str, err: str) -> Run:
    words = out.split()
    if returncode != 0 or len(words) != 4 or words[0] != "alive":
        lines = [line for line in err.splitlines() if line.strip()]
        detail = lines[-1][:160] if lines else f"printed {out[:80]!r}"
        return Run(scenario, returncode if returncode != 0 else 1, 0, 0, 0, detail)
    taken, received, gaps = (int(word) for word in words[1:])
    return Run(scenario, returncode, taken, received, gaps)
