"""Issue 18 with real sockets: one peer, allowed or not, cannot lock the desk."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from radio import CurveClient, CurveServer, DeskError, Publisher, create_keys
from radio.core.desk import encode_request, parse_reply
from radio.core.names import marker_topic, session_topic
from radio.desk import ask
from radio.security import apply_client
from tests.helpers import DEADLINE_S, free_tcp_endpoint, wait_until

DESK_SIZE = 20
"""A small desk: the flood fills it in a moment (a quota of half: 10 per peer)."""


def _socket(kind: int, endpoint: str, keys: CurveClient | None) -> zmq.Socket[bytes]:
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(kind)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.RCVTIMEO, int(DEADLINE_S * 1000))
    if keys is not None:
        apply_client(sock, keys)
    sock.connect(endpoint)
    return sock


@contextlib.contextmanager
def _flood(pub: Publisher, keys: CurveClient | None, *, reconnect: bool) -> Iterator[int]:
    """Join 2 x DESK_SIZE made-up names, each admitted session listened to at once by the
    same peer (one presence marker each); yields how many were admitted. With
    *reconnect*, each join comes over a fresh connection (the same key)."""
    assert pub.desk is not None
    listener = _socket(zmq.SUB, pub.endpoint, keys)
    desk = _socket(zmq.DEALER, pub.desk, keys)
    admitted = 0
    try:
        for i in range(2 * DESK_SIZE):
            if reconnect and i:
                desk.close()
                desk = _socket(zmq.DEALER, pub.desk, keys)
            desk.send_multipart([b"", encode_request(f"rogue-{i}")])
            try:
                session = parse_reply(desk.recv_multipart()[-1], pub.desk).session
            except DeskError:
                continue
            admitted += 1
            topic = session_topic(pub.channel, session)
            listener.setsockopt(zmq.SUBSCRIBE, marker_topic(topic, b"rogue-%d" % i))
            wait_until(lambda s=session: pub.listeners(s) == 1, what="the rogue's marker")
        yield admitted
    finally:
        desk.close()
        listener.close()


def test_one_peer_without_curve_cannot_lock_the_desk() -> None:
    """A peer joins twice the desk's size over one connection and listens to every
    session it gets: it keeps half the desk at most, and five honest joins get in."""
    with Publisher(
        "tcp://127.0.0.1:*", channel="c", desk=free_tcp_endpoint(), max_desk_clients=DESK_SIZE
    ) as pub:
        assert pub.desk is not None
        with _flood(pub, None, reconnect=False) as admitted:
            for i in range(5):
                assert ask(pub.desk, f"honest-{i}").session == pub.desk_session(f"honest-{i}")
            assert admitted == DESK_SIZE // 2


@pytest.fixture
def curve(tmp_path: Path) -> tuple[CurveServer, CurveClient, CurveClient]:
    """A publisher's keys with two allowed client keys: a rogue one and an honest one."""
    server_pub, server_secret = create_keys(tmp_path / "server", "server")
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    clients = []
    for name in ("rogue", "honest"):
        public, secret = create_keys(tmp_path / name, name)
        (allowed / f"{name}.key").write_bytes(public.read_bytes())
        clients.append(CurveClient.from_files(secret, server_pub))
    return CurveServer.from_files(server_secret, str(allowed)), clients[0], clients[1]


def test_one_allowed_key_cannot_lock_the_desk(
    curve: tuple[CurveServer, CurveClient, CurveClient],
) -> None:
    """An allowed key joins twice the desk's size, each join over a fresh connection,
    and listens to every session it gets: its quota holds across connections (half
    the desk), and five honest joins of another key get in."""
    security, rogue, honest = curve
    with Publisher(
        "tcp://127.0.0.1:*",
        channel="c",
        desk=free_tcp_endpoint(),
        max_desk_clients=DESK_SIZE,
        security=security,
    ) as pub:
        assert pub.desk is not None
        with _flood(pub, rogue, reconnect=True) as admitted:
            for i in range(5):
                answer = ask(pub.desk, f"honest-{i}", security=honest)
                assert answer.session == pub.desk_session(f"honest-{i}")
            assert admitted == DESK_SIZE // 2
