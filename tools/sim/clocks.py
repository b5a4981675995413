"""One simulated host's clocks: a wall clock (skew, drift, steps) and a monotonic one."""

from __future__ import annotations

from typing import Final

from tools.sim.timeline import Timeline

EPOCH_S: Final[float] = 1_700_000_000.0
"""What a true wall clock reads at true time 0 (late 2023)."""


class HostClock:
    """The two clocks of one simulated host, read as the cores' ``clock``/``monotonic``.

    Wall time is `EPOCH_S` plus true time plus a constant *skew*, plus *drift* (a rate error,
    e.g. 1e-4 for 100 ppm) times true time, plus every step taken so far (an NTP
    correction, a resumed VM). The monotonic clock has its own origin and the same
    drift, and never steps.
    """

    def __init__(
        self, timeline: Timeline, *, skew: float, drift: float = 0.0, origin: float = 0.0
    ) -> None:
        self._timeline = timeline
        self.skew = skew
        self.drift = drift
        self.origin = origin
        self.stepped = 0.0

    def wall(self) -> float:
        """The host's wall clock now (what ``time.time`` would say there)."""
        now = self._timeline.now
        return EPOCH_S + now + self.skew + self.drift * now + self.stepped

    def monotonic(self) -> float:
        """The host's monotonic clock now (what ``time.monotonic`` would say there)."""
        now = self._timeline.now
        return self.origin + now + self.drift * now

    def step(self, by: float) -> None:
        """Step the wall clock by *by* seconds (forward when positive)."""
        self.stepped += by
