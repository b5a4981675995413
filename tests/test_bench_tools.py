"""The benchmark's own pieces: the iteration loop, its silence, the padded reference, the page."""

from __future__ import annotations

import time

import pytest

from radio import ClosedError
from radio.core.wire import HEADER
from tests.helpers import tuned
from tools.bench.phases import Plan, Results, Spread, measured_in
from tools.bench.report import TARGETS, why_missed
from tools.bench.silence import iterating
from tools.bench.systems import HEADER_BYTES


def test_iteration_hands_out_the_payloads_in_order() -> None:
    """``recv`` gives the payloads of ``for message in sub``, in order, while they come."""
    with tuned() as (pub, sub):
        recv, silence = iterating(sub, 10.0)
        try:
            for index in range(100):
                pub.send("s1", b"%d" % index)
            assert [recv(10.0) for _ in range(100)] == [b"%d" % i for i in range(100)]
        finally:
            silence.stop()


def test_a_silence_as_long_as_the_timeout_ends_the_loop() -> None:
    """With nothing new heard for the timeout asked, the subscriber closes and ``recv`` is None.

    Not earlier than the timeout after the last message, and within a generous bound.
    """
    with tuned() as (pub, sub):
        recv, silence = iterating(sub, 10.0)
        try:
            started = time.monotonic()  # the silence counts from when "first" was heard
            pub.send("s1", b"first")
            assert recv(10.0) == b"first"  # the first wait: the long timeout
            assert recv(0.3) is None  # then nothing more: the short one ends it
            waited = time.monotonic() - started
        finally:
            silence.stop()
        assert 0.3 <= waited < 5.0
        with pytest.raises(ClosedError):
            sub.recv(0.0)


def test_a_loop_that_ended_on_its_count_leaves_the_subscriber_open() -> None:
    """Stopping the watchdog when the loop is over closes nothing."""
    with tuned() as (pub, sub):
        recv, silence = iterating(sub, 5.0)
        pub.send("s1", b"only")
        assert recv(5.0) == b"only"
        silence.stop()
        assert sub.recv(0.0) is None  # open: nothing more, and no ClosedError


def test_the_padded_reference_is_as_long_as_radios_header() -> None:
    """Raw pyzmq's padded frames carry exactly the bytes radio's header adds after the topic."""
    assert HEADER.size == HEADER_BYTES


def test_a_system_is_measured_only_in_its_phases() -> None:
    """A reference row runs where it is compared (see `System.phases`), in the plan's order."""
    plan = Plan(systems=("zmq-1frame", "zmq-1frame-padded", "radio", "radio-recv"))
    assert measured_in(plan, "fanout") == ["zmq-1frame", "zmq-1frame-padded", "radio"]
    assert measured_in(plan, "latency") == ["zmq-1frame", "radio", "radio-recv"]
    assert measured_in(plan, "memory") == ["zmq-1frame", "radio"]


def test_a_missed_target_says_how_many_rounds_met_it_alone() -> None:
    """Three rounds of radio against raw at 2.5x, 3.5x and 2.9x: the median (2.9x) misses
    3x, one round met it, and the page says so beside the target's label."""
    results = Results()
    results.throughput = {
        "radio-batch": {100: Spread.of([2.5, 3.5, 2.9])},
        "zmq-1frame": {100: Spread.of([1.0, 1.0, 1.0])},
    }
    [target] = [t for t in TARGETS if t.mine == "radio-batch"]
    assert not target.met(target.ratio(results) or 0.0)
    assert why_missed(target, results).startswith(f"{target.label} (met in 1 of 3 rounds): ")
