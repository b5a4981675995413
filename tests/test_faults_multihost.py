"""The fault harness's trimmed run: four simulated hosts, cuts, loss and clock skew.

Runs the scenarios of `python -m tools.faults.main --quick` once (about 90 s, as
root) through the same code as `make faults`, then checks each kind of bound over
every scenario. Skips where the machine cannot simulate hosts (not root, no TAP).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.faults.checks import FULL_RUN_KINDS, KINDS, Check
from tools.faults.netns import leftovers, why_unavailable
from tools.faults.suite import Suite, run_suite

pytestmark = [pytest.mark.slow, pytest.mark.wallclock, pytest.mark.timeout(400)]

UNAVAILABLE = why_unavailable()


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Suite:
    """One trimmed run of every scenario, shared by the checks below."""
    if UNAVAILABLE is not None:
        pytest.skip(UNAVAILABLE)
    logs: Path = tmp_path_factory.mktemp("faults")
    return run_suite(logs, quick=True)


def _explain(failed: list[Check]) -> str:
    return "\n".join(f"{c.scenario}: {c.measured}: {c.value} (bound {c.bound})" for c in failed)


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind not in FULL_RUN_KINDS])
def test_bound_holds_in_every_scenario(suite: Suite, kind: str) -> None:
    """Each kind of bound holds in every scenario where it applies."""
    found = [check for check in suite.checks if check.kind == kind]
    if not found:
        reasons = "; ".join(f"{title}: {why}" for title, why in suite.skipped.items())
        pytest.skip(f"no scenario measured {kind}" + (f" ({reasons})" if reasons else ""))
    failed = [check for check in found if not check.met]
    assert not failed, _explain(failed)


def test_every_scenario_ran(suite: Suite) -> None:
    """Every trimmed scenario ran (the skew one may skip, with its reason, without libfaketime)."""
    assert {"baseline", "loss-5", "loss-30", "cut-ab-10", "cut-bc"} <= set(suite.outcomes)
    assert "skew" in suite.outcomes or len(suite.skipped) == 1


def test_nothing_left_behind(suite: Suite) -> None:
    """The run removed every namespace (and with them the TAP devices) it created."""
    assert leftovers() == []
