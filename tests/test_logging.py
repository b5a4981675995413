"""A silent library: nothing on stdout or stderr, structured events for those who ask."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap

import pytest

from radio import Publisher, Subscriber
from tests.helpers import DEADLINE_S, recv_all

PROGRAM = textwrap.dedent(
    """
    from radio import Publisher, Subscriber

    with Publisher("tcp://127.0.0.1:*", channel="quiet") as pub:
        session = pub.open_session()
        with Subscriber(pub.endpoint, channel="quiet") as sub:
            sub.tune_in(session)
            assert pub.wait_for_listener(session, timeout=10.0)
            pub.send(session, b"hello")
            assert sub.recv(timeout=10.0).payload == b"hello"
            sub.tune_out(session)
            sub.tune_in("never-sent")
            Subscriber("tcp://127.0.0.1:1", channel="quiet").close()
    """
)


def test_a_program_that_configures_nothing_gets_nothing() -> None:
    """Publishing and receiving with radio prints not one line on stdout or stderr."""
    result = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, timeout=DEADLINE_S * 3, check=True
    )
    assert (result.stdout, result.stderr) == (b"", b"")


JUNK = 'from radio.core.tuner import Tuner\nTuner("ch").handle(b"junk")\n'


def test_warnings_are_silent_until_logging_is_configured() -> None:
    """A warning (junk on the wire) prints nothing (radio's NullHandler keeps logging's
    last resort quiet); after ``logging.basicConfig()`` it is on stderr, never stdout."""
    quiet = subprocess.run(
        [sys.executable, "-c", JUNK], capture_output=True, timeout=DEADLINE_S, check=True
    )
    assert (quiet.stdout, quiet.stderr) == (b"", b"")
    configured = "import logging\nlogging.basicConfig()\n" + JUNK
    loud = subprocess.run(
        [sys.executable, "-c", configured], capture_output=True, timeout=DEADLINE_S, check=True
    )
    assert loud.stdout == b""
    assert b"message_malformed" in loud.stderr


def test_a_program_that_configures_logging_gets_radios_events(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Events arrive on the "radio" logger, their fields as record attributes."""
    with (
        caplog.at_level(logging.INFO, logger="radio"),
        Publisher("tcp://127.0.0.1:*", channel="loud") as pub,
    ):
        pub.open_session("s1")
        with Subscriber(pub.endpoint, channel="loud") as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.send("s1", b"x")
            recv_all(sub, 1)
    opened = [r for r in caplog.records if r.getMessage() == "session_opened"]
    assert opened
    assert opened[0].name == "radio"
    assert opened[0].__dict__["session"] == "s1"
    assert opened[0].__dict__["channel"] == "loud"
