"""What a publisher's core counts for metrics (`Tally`), and listeners by channel and session."""

from __future__ import annotations

from radio.core.desk import encode_request
from radio.core.names import control_topic, marker_topic, session_topic
from radio.core.tally import session_listeners, tally
from radio.core.transmitter import Transmitter

LISTENER = b"0123456789abcdef"


def core() -> Transmitter:
    return Transmitter("ch", clock=lambda: 1000.0, monotonic=lambda: 1000.0)


def join(topic: bytes, listener: bytes = LISTENER) -> bytes:
    return b"\x01" + marker_topic(topic, listener)


def test_a_new_core_counts_nothing() -> None:
    counted = tally(core())
    assert counted.listeners == {}
    assert counted[2:12] == (0,) * 10
    assert (counted.dropped, counted.curve) == (0, None)


def test_sessions_and_messages_are_counted_across_closes() -> None:
    """Messages sent on a session still count once it is closed; opens and closes count."""
    tx = core()
    tx.open("s1")
    tx.open("s2")
    for _ in range(3):
        tx.send("s1", b"x", 0.0)
    tx.send("s2", b"y", 0.0)
    tx.close("s1")
    counted = tally(tx, dropped=4, curve=(2, 1))
    assert (counted.sessions_opened, counted.sessions_closed, counted.open_sessions) == (2, 1, 1)
    assert counted.messages_sent == 4
    assert counted.listeners == {"s2": 0}  # open sessions at 0; a closed one is gone
    assert (counted.dropped, counted.curve) == (4, (2, 1))


def test_listeners_by_session_and_on_the_channel() -> None:
    """Open sessions read 0 until somebody listens; a session not open yet that has listeners
    is listed; another channel's listeners are not ours."""
    tx = core()
    tx.open("s1")
    tx.hear(join(session_topic("ch", "s1")))
    tx.hear(join(session_topic("ch", "s1"), b"fedcba9876543210"))
    tx.hear(join(session_topic("ch", "later")))
    tx.hear(join(control_topic("ch")))
    tx.hear(join(session_topic("other", "s1")))
    counted = tally(tx)
    assert counted.listeners == {"s1": 2, "later": 1}
    assert counted.channel_listeners == 1


def test_desk_joins_refusals_and_evictions_are_counted() -> None:
    tx = Transmitter("ch", max_desk_clients=2, max_desk_clients_per_key=2)
    tx.answer_desk(encode_request("a"), "tcp://x:1", b"k1")
    tx.answer_desk(encode_request("b"), "tcp://x:1", b"k2")
    tx.answer_desk(b"junk", "tcp://x:1", b"k1")
    tx.answer_desk(encode_request("c"), "tcp://x:1", b"k3")  # full: evicts an unlistened one
    counted = tally(tx)
    assert (counted.desk_joins, counted.desk_refusals, counted.desk_evictions) == (3, 1, 1)
    assert counted.desk_clients == 2
    assert counted.sessions_opened == 3
    assert counted.sessions_closed == 1


def test_session_listeners_reads_channel_topics_only() -> None:
    topics = {
        session_topic("ch", "s1"): 3,
        control_topic("ch"): 4,
        session_topic("other", "s9"): 1,
        b"ch/": 7,  # a prefix, not a channel topic
        b"\x00ch/abc/": 2,  # an inbox
    }
    assert session_listeners(topics) == {
        ("ch", "s1"): 3,
        ("ch", None): 4,
        ("other", "s9"): 1,
    }
