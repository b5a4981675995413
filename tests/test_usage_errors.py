"""Mistakes a user makes get an answer that names them: a typo, a ttl of 0, a count of 0."""

from __future__ import annotations

import logging

import pytest

from radio import InvalidSettingError, Publisher, Relay, Subscriber
from tests.helpers import tuned


def test_waiting_for_a_session_that_is_not_open_warns_once_naming_the_open_ones(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A mistyped session would make wait_for_listener wait out its timeout in silence:
    it says, once, that the session is not open and which ones are."""
    with (
        caplog.at_level(logging.WARNING, logger="radio"),
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
    ):
        pub.open_session("session-1")
        assert not pub.wait_for_listener("sesion-1", timeout=0.05)
        assert not pub.wait_for_listener("sesion-1", timeout=0.05)
    warned = [r for r in caplog.records if r.getMessage() == "session_not_open"]
    assert len(warned) == 1
    assert warned[0].__dict__["session"] == "sesion-1"
    assert warned[0].__dict__["open"] == ["session-1"]


def test_a_subscriber_that_tunes_in_first_is_still_waited_for_without_a_warning_once_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An open session is never warned about; a session opened after the warning counts."""
    with caplog.at_level(logging.WARNING, logger="radio"), tuned("s") as (pub, _sub):
        assert pub.wait_for_listener("s", timeout=1.0)
    assert not [r for r in caplog.records if r.getMessage() == "session_not_open"]


@pytest.mark.parametrize("ttl", [0, 0.0])
def test_a_ttl_of_zero_is_refused_with_a_pointer_to_none(ttl: float) -> None:
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s")
        for send in (lambda: pub.send("s", b"x", ttl), lambda: pub.send_many("s", [b"x"], ttl)):
            with pytest.raises(InvalidSettingError, match=r"invalid ttl 0.*None for no expiry"):
                send()


@pytest.mark.parametrize("count", [0, -1, True, 1.5])
def test_recv_many_refuses_a_count_below_one(count: object) -> None:
    with (
        Subscriber("tcp://127.0.0.1:9", channel="c", bind=False) as sub,
        pytest.raises(InvalidSettingError, match=rf"invalid max count {count!r}"),
    ):
        sub.recv_many(count, timeout=0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [Publisher, Subscriber, Relay])
def test_an_unknown_keyword_is_refused_as_python_would(cls: type) -> None:
    """**options takes the socket keywords only: a misspelt one is a TypeError naming it."""
    endpoints = ["tcp://127.0.0.1:*"] * (2 if cls is Relay else 1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'hmw'"):
        cls(*endpoints, hmw=10)
