"""Hostile-load measurement of the desk lock: one allowed key that listens to all its clients."""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq

from radio import CurveClient, CurveServer, DeskError, Publisher, Subscriber, create_keys
from radio.core.desk import MAX_DESK_CLIENTS, encode_request, parse_reply
from radio.core.names import marker_topic, session_topic
from radio.security import apply_client

BATCH: Final[int] = 100
"""Joins the rogue key sends before it listens to the sessions they got."""

DEADLINE_S: Final[float] = 20.0

HONEST_BOUND_S: Final[float] = 1.0
"""Longest an honest join may take, from request to being counted, for the run to pass."""


@dataclass(frozen=True)
class LockFigures:
    """What the rogue key kept, and how the honest joins that followed fared."""

    joins: int
    seconds: float
    kept: int
    refused: int
    honest_s: list[float]  # one per honest join: inf when refused or never counted

    @property
    def honest_admitted(self) -> int:
        return sum(took < HONEST_BOUND_S for took in self.honest_s)

    @property
    def honest_median_s(self) -> float:
        return statistics.median(self.honest_s)

    @property
    def honest_max_s(self) -> float:
        return max(self.honest_s)


def desk_lock(joins: int = 10_000, max_clients: int = MAX_DESK_CLIENTS) -> LockFigures:
    """Measure one allowed CURVE key's attempt to lock the desk, then honest joins.

    The key joins *joins* made-up names, listening to each session it gets (one
    presence marker each) before it asks for more; then another key joins five
    times. Issue 18: the desk used to refuse all five.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server_public, server_secret = create_keys(folder / "server", "server")
        allowed = folder / "allowed"
        allowed.mkdir()
        keys = []
        for name in ("rogue", "honest"):
            public, secret = create_keys(folder / name, name)
            (allowed / f"{name}.key").write_bytes(public.read_bytes())
            keys.append(CurveClient.from_files(secret, server_public))
        rogue, honest = keys
        server = CurveServer.from_files(server_secret, str(allowed))
        with Publisher(
            "tcp://127.0.0.1:*",
            channel="lock",
            desk="tcp://127.0.0.1:*",
            security=server,
            max_desk_clients=max_clients,
        ) as pub:
            start = time.monotonic()
            kept, refused = _flood(pub, rogue, joins)
            seconds = time.monotonic() - start
            honest_s = [_honest_join(pub, honest, f"honest-{i}") for i in range(5)]
    return LockFigures(joins, seconds, kept, refused, honest_s)


def _flood(pub: Publisher, keys: CurveClient, joins: int) -> tuple[int, int]:
    """The rogue key's joins, in batches; returns how many it kept and how many were refused."""
    assert pub.desk is not None
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    desk: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
    listener: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
    refused = 0
    try:
        for sock, endpoint in ((desk, pub.desk), (listener, pub.endpoint)):
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.RCVTIMEO, int(DEADLINE_S * 1000))
            apply_client(sock, keys)
            sock.connect(endpoint)
        for first in range(0, joins, BATCH):
            names = range(first, min(first + BATCH, joins))
            for i in names:
                desk.send_multipart([b"", encode_request(f"rogue-{i}")])
            sessions = []
            for _ in names:
                try:
                    sessions.append(parse_reply(desk.recv_multipart()[-1], pub.desk).session)
                except DeskError:
                    refused += 1
            for session in sessions:
                topic = session_topic(pub.channel, session)
                listener.setsockopt(zmq.SUBSCRIBE, marker_topic(topic, session.encode()))
            _wait_heard(pub, sessions)
    finally:
        desk.close()
        listener.close()
    kept = sum(pub.desk_session(f"rogue-{i}") is not None for i in range(joins))
    return kept, refused


def _wait_heard(pub: Publisher, sessions: list[str]) -> None:
    """Until the publisher counts a listener on each of *sessions* still open (a deadline)."""
    deadline = time.monotonic() + DEADLINE_S
    for session in sessions:
        while session in pub.sessions and pub.listeners(session) == 0:
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)  # sync-ok: polling a condition with a deadline


def _honest_join(pub: Publisher, keys: CurveClient, client: str) -> float:
    """How long an honest join takes until its listener is counted; inf if refused."""
    assert pub.desk is not None
    start = time.monotonic()
    try:
        with Subscriber.join(pub.desk, client, security=keys) as sub:
            if not pub.wait_for_listener(next(iter(sub.sessions)), timeout=DEADLINE_S):
                return float("inf")
            return time.monotonic() - start
    except DeskError:
        return float("inf")
