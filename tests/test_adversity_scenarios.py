"""`make adversity`'s issue 18 scenarios, each in its small form, meet their bounds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tools.soak.adversity_allow import allow_list_fifo
from tools.soak.adversity_eviction import desk_eviction
from tools.soak.adversity_full import full_subscribers
from tools.soak.adversity_peers import close_churn, lying_heads
from tools.soak.adversity_relay import relay_burst, relay_flood
from tools.soak.bounds import Bounded

SCENARIOS: list[object] = [
    pytest.param(desk_eviction, id="desk-eviction", marks=pytest.mark.slow),
    pytest.param(relay_flood, id="relay-flood"),
    pytest.param(relay_burst, id="relay-burst"),
    pytest.param(lambda: full_subscribers(1), id="full-subscribers", marks=pytest.mark.slow),
    pytest.param(lambda: lying_heads(500), id="lying-heads"),
    pytest.param(lambda: close_churn(1), id="close-churn"),
    pytest.param(allow_list_fifo, id="allow-list"),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_scenario_meets_its_bound(scenario: Callable[[], Bounded]) -> None:
    """The harness runs the attack, measures it and holds it to its bound: met on the
    fixed code (the row says what was measured when it is not)."""
    figures = scenario()
    assert figures.met, figures.row()
    assert figures.row().met
