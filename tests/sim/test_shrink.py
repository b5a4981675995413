"""A failing seed shrinks to a shorter run that fails the same invariant, and replays exactly."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest

import radio.compiled
from tools import child_env
from tools.sim.mutations import mutated
from tools.sim.profile import END_S, Profile
from tools.sim.scenario import Trim
from tools.sim.shrink import MAX_RUNS, shrink
from tools.sim.world import World, run_seed

PLANTED = ("follower_head_uncounted", 3)
"""A planted bug and a seed it fails (``accounting``): a real failure whatever the cores."""


def _sim(*args: str) -> tuple[int, str]:
    """Run ``python -m tools.sim`` on the pure cores (mutations need them); exit status, output."""
    out = subprocess.run(
        [sys.executable, "-m", "tools.sim", "--jobs", "1", *args],
        env=child_env(RADIO_PURE="1"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return out.returncode, out.stdout


def _first(output: str) -> tuple[str, int]:
    """The invariant of a run's first violation and its steps, from its output."""
    invariant = re.search(r"^VIOLATION \S+ \S+ \[(\w+)\]", output, re.MULTILINE)
    steps = re.search(r"^seed \d+ .* (\d+) steps,", output, re.MULTILINE)
    assert invariant is not None, output
    assert steps is not None, output
    return invariant.group(1), int(steps.group(1))


def test_a_failing_seed_prints_a_shorter_replay_that_fails_the_same_way() -> None:
    """The printed shortest replay fails the same invariant first, in fewer steps."""
    mutation, seed = PLANTED
    status, output = _sim("--seed", str(seed), "--mutation", mutation)
    assert status == 1, output
    invariant, steps = _first(output)
    assert invariant == "accounting"
    command = output.rstrip().splitlines()[-1].strip()
    assert command.startswith(f"python -m tools.sim --seed {seed} --mutation {mutation} --until")
    status, replayed = _sim(*shlex.split(command)[3:])
    assert status == 1, replayed
    again, fewer = _first(replayed)
    assert again == invariant
    assert fewer < steps
    assert f"replay: {command}" in replayed  # a trimmed run names itself: nothing is lost
    assert "shortest replay" not in replayed  # and is not shrunk again


@pytest.mark.skipif(radio.compiled.ACTIVE, reason="mutations need the pure cores (RADIO_PURE=1)")
def test_shrinking_is_deterministic_and_bounded() -> None:
    """The same failure shrinks to the same run, in at most `MAX_RUNS` runs, never longer."""
    mutation, seed = PLANTED
    with mutated(mutation):
        first, second = shrink(seed, Profile()), shrink(seed, Profile())
        assert first is not None
        assert second is not None
        assert first.trim == second.trim
        assert first.runs == second.runs <= MAX_RUNS + 1
        replayed = run_seed(seed, Profile(), first.trim)
    assert replayed.steps == first.result.steps < first.original.steps
    assert replayed.invariant == first.invariant == first.original.invariant
    assert len(first.result.events) <= len(first.original.events)
    assert first.result.subscribers <= first.original.subscribers


def test_a_seed_that_passes_has_nothing_to_shrink() -> None:
    """No failure, no shrink."""
    assert shrink(17, Profile()) is None


def test_the_whole_plan_is_the_default_trim() -> None:
    """A trim that keeps everything, or stops at the end, is the run the seed gives."""
    whole = run_seed(17)
    for trim in (Trim(), Trim.parse(END_S, None, None, None)):
        same = run_seed(17, trim=trim)
        assert (same.sent, same.yielded, same.steps) == (whole.sent, whole.yielded, whole.steps)


def test_a_trim_keeps_what_it_names() -> None:
    """Events by number, subscribers renumbered from 0, nothing past `until`."""
    trim = Trim.parse(1.5, "0,3,4,9", "1", None)
    assert trim.args() == "--until 1.5 --events 0,3,4,9 --subscribers 1"
    assert Trim.parse(None, "none", None, "").args() == "--events none --forgeries none"
    whole, world = World(5, Profile()), World(5, Profile(), trim)
    assert world.plan.subscribers == [whole.plan.subscribers[1]]
    expected = [
        event.number
        for event in whole.plan.events
        if event.number in (0, 3, 4, 9) and event.at <= 1.5 and event.target in (-1, 1)
    ]
    assert [event.number for event in world.plan.events] == expected
    assert all(event.target in (-1, 0) for event in world.plan.events)
    assert world.run().steps < run_seed(5).steps
