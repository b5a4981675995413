"""The simulator catches planted bugs: each mutation of the real cores fails a fixed seed."""

from __future__ import annotations

import pytest

from tools.sim.mutations import MUTATIONS, mutated
from tools.sim.profile import Profile
from tools.sim.world import run_seed

CATCHING: dict[str, tuple[Profile, list[int]]] = {
    "no_fence_after_retune": (Profile(quick_retune=True), [0, 9, 30]),
    "gap_not_counted": (Profile(), [0, 1, 2]),
    "expired_not_counted": (Profile(), [24, 71, 103]),
    "ttl_ignored": (Profile(), [24, 71, 103]),
    "old_session_stays_live": (Profile(), [157, 299]),
    "follower_head_uncounted": (Profile(), [2, 3, 5]),
}
"""For each mutation, a profile and seeds that pass unmutated and catch it."""


def test_every_mutation_has_catching_seeds() -> None:
    """No mutation goes untested."""
    assert set(CATCHING) == set(MUTATIONS)


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_the_fixed_seeds_catch_the_mutation(name: str) -> None:
    """The seeds pass on the real cores and fail with the mutation applied."""
    profile, seeds = CATCHING[name]
    assert all(run_seed(seed, profile).ok for seed in seeds)
    with mutated(name):
        caught = [seed for seed in seeds if not run_seed(seed, profile).ok]
    assert caught, f"{name} went unnoticed on seeds {seeds}"


def test_mutations_are_undone() -> None:
    """Leaving the block restores the real cores."""
    with mutated("gap_not_counted"):
        assert not run_seed(0).ok
    assert run_seed(0).ok
