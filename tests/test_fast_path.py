"""The publisher's send path on a real socket: the bytes of wire.encode, with or without
pyzmq's private fast send."""

from __future__ import annotations

import pytest
import zmq

import radio.sockets
from radio import Publisher
from radio.core.names import session_topic
from radio.core.wire import Kind, decode, encode
from tests.helpers import DEADLINE_S, wait_until


@pytest.mark.parametrize("fast", [True, False], ids=["private-send", "public-send"])
@pytest.mark.parametrize("live", [True, False])
@pytest.mark.parametrize("last_value", [False, True], ids=["plain", "last-value"])
def test_sent_frames_equal_wire_encode(
    fast: bool, live: bool, last_value: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every DATA frame on the wire is wire.encode of its fields, LIVE flag included,
    whether send uses pyzmq's private Cython send or the public one, and whether
    the session keeps its last value or not; `make test` runs it on both builds."""
    if not fast:
        monkeypatch.setattr(radio.sockets, "zmq", _WithoutBackend())
    with Publisher("tcp://127.0.0.1:*", channel="c", last_value=last_value) as pub:
        assert (pub._send.__class__.__name__ == "partial") is fast
        pub.open_session("s1")
        if not live:
            pub.open_session("s2")
        sub = zmq.Context.instance().socket(zmq.SUB)
        try:
            sub.setsockopt(zmq.RCVTIMEO, round(DEADLINE_S * 1000))
            sub.subscribe(session_topic("c", "s1"))
            sub.subscribe(session_topic("c", "s1") + b"\x00raw-listener")
            sub.connect(pub.endpoint)
            wait_until(lambda: pub.listeners("s1") == 1, what="the raw listener")
            pub.send("s1", b"one")
            pub.send("s1", b"two", ttl=2.5)
            frames = [sub.recv() for _ in range(2)]
            instance = pub._core.publisher_id
        finally:
            sub.close(linger=0)
    topic = session_topic("c", "s1")
    for frame, (seq, payload, ttl) in zip(
        frames, [(1, b"one", 0.0), (2, b"two", 2.5)], strict=True
    ):
        sent_at, me = decode(frame).sent_at, decode(frame).publisher
        assert me == instance
        assert frame == encode(
            topic, Kind.DATA, seq, sent_at, payload, ttl, live=live, publisher=me
        )


class _WithoutBackend:
    """The zmq module as the publisher sees it, minus pyzmq's private backend."""

    def __getattr__(self, name: str) -> object:
        if name == "backend":
            raise AttributeError(name)
        return getattr(zmq, name)
