"""The benchmark's iteration loop: messages come through, a silence ends it."""

from __future__ import annotations

import time

import pytest

from radio import ClosedError
from tests.helpers import tuned
from tools.bench.silence import iterating


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
