"""A scenario's faults as timed events, in seconds into the fault: pure, played by `play`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .scenario import Scenario, Step


class Do(Enum):
    """What an event does."""

    DEGRADE = "degrade"  # the faulty cable takes the scenario's conditions
    CUT = "cut"  # the cable is cut (one way or both)
    HEAL = "heal"  # the cable is whole again
    FREEZE = "freeze"  # every subscriber stopped (SIGSTOP)
    THAW = "thaw"  # and resumed (SIGCONT)
    SWITCH = "switch"  # the publisher closes its session and opens a new one
    STEP = "step"  # a host's wall clock steps
    KILL = "kill"  # the publisher is killed (SIGKILL)
    RESTART = "restart"  # a new publisher instance starts on the same session name
    END = "end"  # the fault is over: every cable normal


@dataclass(frozen=True)
class Event:
    """One thing done *at_s* seconds into the fault (``step`` for `Do.STEP`)."""

    at_s: float
    do: Do
    step: Step | None = None


def timeline(scenario: Scenario) -> list[Event]:
    """Every event of *scenario*'s fault, in the order they happen.

    Events at the same time keep the order of this list: the cable is degraded
    or cut before subscribers freeze or the publisher is killed.
    """
    events: list[Event] = []
    if scenario.degraded is not None:
        events.append(Event(0.0, Do.DEGRADE))
    for start, end in scenario.windows:
        events += [Event(start, Do.CUT), Event(end, Do.HEAL)]
    if scenario.freeze_s:
        events += [Event(0.0, Do.FREEZE), Event(scenario.freeze_s, Do.THAW)]
    if scenario.switch_after_s is not None:
        events.append(Event(scenario.switch_after_s, Do.SWITCH))
    events += [Event(step.at_s, Do.STEP, step) for step in scenario.steps]
    if scenario.restart is not None:
        events.append(Event(scenario.restart.kill_at_s, Do.KILL))
        events.append(Event(scenario.restart.start_at_s, Do.RESTART))
    events.append(Event(scenario.fault_s, Do.END))
    order = list(Do)
    return sorted(events, key=lambda event: (event.at_s, order.index(event.do)))
