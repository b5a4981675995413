"""The simulator catches planted bugs: each mutation of the real cores fails a fixed seed."""

from __future__ import annotations

import json
import subprocess
import sys

from tools import child_env
from tools.sim.mutations import BREAKS, CATCHING, MUTATIONS


def test_every_mutation_has_catching_seeds() -> None:
    """No mutation goes untested, and each names the invariant it breaks."""
    assert set(CATCHING) == set(MUTATIONS) == set(BREAKS)


def test_the_fixed_seeds_catch_every_mutation() -> None:
    """Each mutation's seeds pass on the real cores and fail with the mutation applied.

    Run on the pure-Python cores in a child process, whatever this run's build:
    compiled cores call each other directly, past a monkeypatch.
    """
    out = subprocess.run(
        [sys.executable, "-m", "tools.sim.mutations"],
        env=child_env(RADIO_PURE="1"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    results = json.loads(out.stdout.splitlines()[-1])
    assert set(results) == set(MUTATIONS), out.stderr
    for name, result in results.items():
        assert result["failed_plain"] == [], f"{name}: seeds fail without the mutation"
        assert result["caught"], f"{name} went unnoticed on seeds {CATCHING[name][1]}"
        assert result["invariants"] == [BREAKS[name]], f"{name} caught as {result['invariants']}"
    assert out.returncode == 0
