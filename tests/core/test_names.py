"""Channel and session names: the rule, the topics, the session IDs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radio import InvalidNameError, new_session_id, validate_name
from radio.core.names import NAME_ALPHABET, control_topic, session_topic

names = st.text(alphabet=NAME_ALPHABET, min_size=1, max_size=128)


@pytest.mark.parametrize("name", ["a", "orders", "A-b_c.d:e", "0" * 128, "sess:2026-11-26"])
def test_valid_names_are_returned_unchanged(name: str) -> None:
    """A name within the rule comes back as it was."""
    assert validate_name(name) == name


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "empty"),
        ("a" * 129, "129 characters"),
        ("a/b", "'/'"),
        ("a b", "' '"),
        ("caf\u00e9", "'\u00e9'"),
        ("a!", "'!'"),
        ("line\n", "'\\n'"),
        ("nul\x00", "'\\x00'"),
    ],
)
def test_invalid_names_are_refused_naming_the_value(name: str, reason: str) -> None:
    """The error names the bad value and says why."""
    with pytest.raises(InvalidNameError) as info:
        validate_name(name, "session")
    message = str(info.value)
    assert repr(name) in message
    assert "session" in message
    assert reason in message


@pytest.mark.parametrize("value", [None, 12, b"bytes"])
def test_non_strings_are_refused(value: object) -> None:
    """Only str is a name."""
    with pytest.raises(InvalidNameError, match="must be a string"):
        validate_name(value)


@given(names, names, names, names)
def test_no_topic_is_a_prefix_of_another(c1: str, s1: str, c2: str, s2: str) -> None:
    """ZeroMQ matches by byte prefix: distinct (channel, session) topics never prefix each other."""
    topics = {session_topic(c1, s1), session_topic(c2, s2), control_topic(c1), control_topic(c2)}
    for a in topics:
        for b in topics:
            if a != b:
                assert not b.startswith(a)


@given(names, names)
def test_session_topic_is_channel_slash_session_slash(channel: str, session: str) -> None:
    """The topic layout the protocol documents."""
    assert session_topic(channel, session) == f"{channel}/{session}/".encode()


def test_session_ids_are_valid_unique_and_long() -> None:
    """Generated IDs pass the name rule, do not repeat, and carry 96 random bits."""
    ids = {new_session_id() for _ in range(10_000)}
    assert len(ids) == 10_000
    for session in ids:
        assert validate_name(session) == session
        assert len(session) == 16
