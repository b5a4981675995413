"""The observer's model (radio.core.watch): publishers, sessions, rates, audience, losses."""

from __future__ import annotations

import json

from radio.core.names import audience_topic, control_topic, session_topic
from radio.core.watch import MAX_ENDED, MAX_SESSIONS, RATE_WINDOW_S, Watch, snapshot_dict
from radio.core.wire import (
    Audience,
    Beacon,
    Kind,
    encode,
    encode_audience,
    encode_batch,
    encode_beacon,
    encode_parts,
)

PUB = b"pub-0001"
OTHER = b"pub-0002"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def data(session: str, seq: int, publisher: bytes = PUB) -> bytes:
    topic = session_topic("ch", session)
    return encode(topic, Kind.DATA, seq, 5.0, b"x", 0.0, live=True, publisher=publisher)


def beacon(live: str, seq: int = 0, publisher: bytes = PUB, **more: object) -> bytes:
    content = Beacon(publisher, live, seq, wall=1e9, **more)  # type: ignore[arg-type]
    return encode_beacon(control_topic("ch"), 1, 5.0, 1.0, content)


def audience(content: Audience, publisher: bytes = PUB) -> bytes:
    return encode_audience(audience_topic("ch"), 1, 5.0, 1.0, content, publisher)


def watch() -> tuple[Watch, Clock]:
    clock = Clock()
    return Watch("ch", monotonic=clock, clock=lambda: 1e9), clock


def test_sessions_with_state_seq_and_listeners_from_beacons_and_the_audience() -> None:
    model, _clock = watch()
    model.take([beacon("s2", 0, previous="s1", previous_seq=4, ended=(("s0", 9),))])
    model.take([audience(Audience(4, (("s2", 3, 0), ("s1", 1, 4)), 0, 2, 1))])
    model.take([data("s2", 1), data("s2", 2)])
    (row,) = model.snapshot().publishers
    assert row.publisher == PUB.hex()
    assert row.on_air
    assert row.live == "s2"
    assert (row.channel_listeners, row.desk_sessions, row.desk_listeners) == (4, 2, 1)
    by_name = {s.name: s for s in row.sessions}
    assert [s.name for s in row.sessions] == ["s2", "s1", "s0"]  # live, open, ended
    assert (by_name["s2"].state, by_name["s2"].last_seq, by_name["s2"].listeners) == ("live", 2, 3)
    assert (by_name["s1"].state, by_name["s1"].last_seq, by_name["s1"].listeners) == ("open", 4, 1)
    assert (by_name["s0"].state, by_name["s0"].last_seq, by_name["s0"].listeners) == ("ended", 9, 0)


def test_no_audience_means_no_counts_and_an_old_one_expires() -> None:
    model, clock = watch()
    model.take([beacon("s1"), data("s1", 1)])
    (row,) = model.snapshot().publishers
    assert not row.audience
    assert row.channel_listeners is None
    assert row.sessions[0].listeners is None
    model.take([audience(Audience(1, (("s1", 1, 1),)))])
    assert model.snapshot().publishers[0].sessions[0].listeners == 1
    clock.now += 10.0  # no audience for ten intervals: turned off, or lost
    row = model.snapshot().publishers[0]
    assert not row.audience
    assert row.sessions[0].listeners is None
    assert not row.on_air


def test_rate_over_the_window_and_gaps_counted_by_the_tuner() -> None:
    model, clock = watch()
    model.take([beacon("s1")])
    for seq in range(1, 11):
        clock.now += 0.1
        model.take([data("s1", seq)])
    model.take([data("s1", 15)])  # 11 to 14 never came
    snap = model.snapshot()
    session = snap.publishers[0].sessions[0]
    assert session.heard == 11
    assert session.last_seq == 15
    assert 10.0 <= session.rate <= 11.0 / 0.99
    assert snap.losses["gaps"] == 4
    assert snap.received == 11
    clock.now += RATE_WINDOW_S + 0.5
    assert model.snapshot().publishers[0].sessions[0].rate == 0.0


def test_a_batch_counts_each_message_and_an_end_ends_the_session() -> None:
    model, _clock = watch()
    topic = session_topic("ch", "s1")
    model.take(
        [encode_batch(topic, 1, 0.0, [(5.0, b"a"), (5.0, b"b"), (5.0, b"c")], publisher=PUB)]
    )
    model.take([encode(topic, Kind.END, 3, 5.0, publisher=PUB)])
    session = model.snapshot().publishers[0].sessions[0]
    assert (session.state, session.heard, session.last_seq) == ("ended", 3, 3)
    model.take([data("s1", 9)])  # a stale straggler: the session stays ended
    assert model.snapshot().publishers[0].sessions[0].heard == 3


def test_two_publisher_instances_are_kept_apart_and_junk_is_malformed() -> None:
    model, clock = watch()
    model.take([beacon("s1"), data("s1", 1)])
    clock.now += 0.5
    model.take([data("s1", 1, OTHER), b"junk", b"ch/!/" + bytes(40)])
    snap = model.snapshot()
    assert [row.publisher for row in snap.publishers] == [OTHER.hex(), PUB.hex()]
    assert snap.malformed == 2
    assert (
        json.loads(json.dumps(snapshot_dict(snap)))["publishers"][0]["sessions"][0]["name"] == "s1"
    )


def test_sessions_and_ended_ones_are_bounded() -> None:
    model, clock = watch()
    for index in range(MAX_SESSIONS + 20):
        clock.now += 0.001
        model.take([data(f"s{index}", 1)])
    assert len(model.snapshot().publishers[0].sessions) == MAX_SESSIONS
    ended = tuple((f"e{index}", 1) for index in range(8))
    for _ in range(4):
        model.take([beacon("", ended=ended)])
        ended = tuple((name + "x", seq) for name, seq in ended)
    rows = model.snapshot().publishers[0].sessions
    assert sum(row.state == "ended" for row in rows) == MAX_ENDED


def test_a_two_part_message_counts_once() -> None:
    model, _clock = watch()
    head, part = encode_parts(session_topic("ch", "s1"), 1, 5.0, b"p" * 100, publisher=PUB)
    model.take([head, part, data("s1", 2)])
    snap = model.snapshot()
    session = snap.publishers[0].sessions[0]
    assert (session.heard, session.last_seq) == (2, 2)
    assert snap.received == 2
    assert snap.malformed == 0
