"""The AUDIENCE frame: what the publisher's core says, bounded, and how it is decoded."""

from __future__ import annotations

import pytest

from radio.core.audience import count_audience
from radio.core.names import audience_topic, control_topic, marker_topic, session_topic
from radio.core.presence import SUBSCRIBE
from radio.core.transmitter import Transmitter
from radio.core.wire import (
    MAX_AUDIENCE_COUNT,
    MAX_AUDIENCE_SESSIONS,
    Audience,
    Kind,
    decode,
    decode_audience_payload,
    encode_audience,
    encode_audience_payload,
)
from radio.errors import MalformedMessageError


def test_the_live_session_comes_first_then_the_most_listened_newest_first() -> None:
    public = [("a", 1, 10), ("b", 5, 20), ("c", 1, 30), ("live", 0, 4)]
    audience = count_audience(7, public, "live", [2, 0, 3])
    assert audience.sessions == (("live", 0, 4), ("b", 5, 20), ("c", 1, 30), ("a", 1, 10))
    assert (audience.channel, audience.unlisted) == (7, 0)
    assert (audience.private_sessions, audience.private_listeners) == (3, 5)


def test_sessions_beyond_the_bound_are_counted_not_listed() -> None:
    public = [(f"s{i}", i % 3, i) for i in range(100)]
    audience = count_audience(0, public, "s0", [])
    assert len(audience.sessions) == MAX_AUDIENCE_SESSIONS
    assert audience.sessions[0][0] == "s0"
    assert audience.unlisted == 100 - MAX_AUDIENCE_SESSIONS
    assert all(entry[1] == 2 for entry in audience.sessions[1:])


def test_the_payload_round_trips_and_caps_counts() -> None:
    audience = Audience(3, (("s1", 2, 9), ("s2", 0, 0)), 4, 1, 1)
    assert decode_audience_payload(encode_audience_payload(audience)) == audience
    huge = Audience(2**40, (("s1", 2**40, 1),))
    capped = decode_audience_payload(encode_audience_payload(huge))
    assert capped.channel == MAX_AUDIENCE_COUNT
    assert capped.sessions == (("s1", MAX_AUDIENCE_COUNT, 1),)


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        encode_audience_payload(Audience())[:-1],
        encode_audience_payload(Audience()) + b"x",
        encode_audience_payload(Audience(1, (("s1", 1, 1),)))[:-3],
        bytes(16) + bytes((MAX_AUDIENCE_SESSIONS + 1,)),
        bytes(16) + b"\x01\x00" + bytes(12),  # an empty name
        bytes(16) + b"\x01\x01/" + bytes(12),  # a bad name
        encode_audience_payload(Audience(1, (("s1", 1, 1), ("s1", 1, 1)))),
    ],
)
def test_a_damaged_payload_is_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedMessageError):
        decode_audience_payload(payload)


def test_the_frame_decodes_only_on_the_audience_topic() -> None:
    frame = encode_audience(audience_topic("ch"), 2, 5.0, 1.0, Audience(1), b"pub-0001")
    decoded = decode(frame)
    assert decoded.kind is Kind.AUDIENCE
    assert decoded.audience == Audience(1)
    assert (decoded.channel, decoded.session, decoded.seq) == ("ch", "", 2)
    for topic in (control_topic("ch"), session_topic("ch", "s1")):
        with pytest.raises(MalformedMessageError):
            decode(encode_audience(topic, 2, 5.0, 1.0, Audience(1), b"pub-0001"))


def _join(core: Transmitter, topic: bytes, listener: bytes) -> None:
    core.hear(bytes((SUBSCRIBE,)) + marker_topic(topic, listener))


def test_the_transmitter_sends_one_with_each_scheduled_beacon_unless_off() -> None:
    now = [10.0]
    core = Transmitter("ch", monotonic=lambda: now[0], clock=lambda: 1e9)
    core.open("s1")
    core.join("client-1")  # a desk session: counted, never named
    _join(core, control_topic("ch"), b"a")
    _join(core, session_topic("ch", "s1"), b"a.1")
    _join(core, session_topic("ch", "s1"), b"b.1")
    core.hear(b"\x01" + session_topic("ch", "s1"))  # a plain subscription: nobody
    assert core.take_audience() == []  # no scheduled beacon yet
    assert core.tick()  # the beacon
    (frame,) = core.take_audience()
    assert decode(frame).audience == Audience(1, (("s1", 2, 0),), 0, 1, 0)
    assert core.take_audience() == []  # one a beacon
    core.open("s2")  # a beacon at once, not scheduled: no audience
    assert core.take_audience() == []
    now[0] += 1.0
    assert core.tick()
    (frame,) = core.take_audience()
    assert decode(frame).audience == Audience(1, (("s2", 0, 0), ("s1", 2, 0)), 0, 1, 0)
    off = Transmitter("ch", monotonic=lambda: now[0], audience=False)
    assert off.tick()
    assert off.take_audience() == []
