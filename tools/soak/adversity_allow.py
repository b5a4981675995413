"""Hostile-load measurement of the allow-list: a FIFO among the keys, and a key revoked."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
from zmq.utils.monitor import recv_monitor_message

from radio import CurveClient, CurveServer, Publisher, Subscriber, create_keys
from radio.security import apply_client
from tools.soak.adversity_desk import DEADLINE_S
from tools.soak.bounds import Row, seconds

COUNTED_BOUND_S: Final[float] = 1.0
"""Longest an allowed subscriber may take to be counted with a FIFO in the folder."""

REVOKED_BOUND_S: Final[float] = 1.0
"""Longest a removed key may still open new connections."""

HANDSHAKE_S: Final[float] = 5.0
"""Longest one probe waits for its handshake's outcome."""

_OUTCOMES: Final[int] = (
    zmq.EVENT_HANDSHAKE_SUCCEEDED
    | zmq.EVENT_HANDSHAKE_FAILED_AUTH
    | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
    | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL
)


@dataclass(frozen=True)
class AllowFigures:
    """How an allowed key fared beside a FIFO, and how soon a removed key was refused."""

    reread: bool  # the folder was read again with the FIFO in it (else nothing was shown)
    counted_s: float  # an allowed subscriber, from its creation until counted; inf: never
    revoked_s: float  # from the key file's removal until its key's handshake failed
    probes: int  # handshakes the removed key tried until one was refused
    kept_allowed: bool  # the other key still completes a handshake afterwards

    @property
    def met(self) -> bool:
        return (
            self.reread
            and self.counted_s < COUNTED_BOUND_S
            and self.revoked_s < REVOKED_BOUND_S
            and self.kept_allowed
        )

    def row(self) -> Row:
        return Row(
            "a FIFO named `x.key` in the allow-list folder; then a key file removed, "
            "nobody else knocking",
            f"folder {'read again' if self.reread else 'NOT read again'} with the FIFO, "
            f"allowed subscriber counted in {seconds(self.counted_s)}; removed key refused "
            f"{seconds(self.revoked_s)} after its removal ({self.probes} handshake(s)); "
            f"other key {'still' if self.kept_allowed else 'no longer'} allowed",
            f"read again, counted within {seconds(COUNTED_BOUND_S)}; refused within "
            f"{seconds(REVOKED_BOUND_S)}; other keys kept",
            self.met,
        )


def allow_list_fifo() -> AllowFigures:
    """Measure a FIFO named ``x.key`` in the allow-list folder, then a key file removed.

    Reading the FIFO would block the authenticator for good; the removed key must
    be refused at its next handshake with no stranger knocking.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server_public, server_secret = create_keys(folder / "server", "server")
        allowed = folder / "allowed"
        allowed.mkdir()
        clients: dict[str, CurveClient] = {}
        for name in ("honest", "revoked"):
            public, secret = create_keys(folder / name, name)
            (allowed / f"{name}.key").write_bytes(public.read_bytes())
            clients[name] = CurveClient.from_files(secret, server_public)
        fifo = allowed / "x.key"
        server = CurveServer.from_files(server_secret, str(allowed))
        with Publisher("tcp://127.0.0.1:*", channel="allow", security=server) as pub:
            try:
                return _measure(pub, fifo, allowed, clients)
            finally:
                _release(fifo)  # before the publisher closes: a stuck authenticator goes on


def _measure(
    pub: Publisher, fifo: Path, allowed: Path, clients: dict[str, CurveClient]
) -> AllowFigures:
    """The FIFO appears, an allowed subscriber joins; then the key file of "revoked" goes."""
    pub.open_session("s")
    if not _handshake(pub.endpoint, clients["revoked"]):
        raise RuntimeError("the key to revoke was refused before its removal")
    allow = pub._allow
    assert allow is not None
    reloads = allow.reloads
    os.mkfifo(fifo)  # the folder changed: the next handshake reads it again
    start = time.monotonic()  # the subscriber's handshake is the one that reads it
    with Subscriber(pub.endpoint, channel="allow", security=clients["honest"]) as sub:
        sub.tune_in("s")
        counted = pub.wait_for_listener("s", timeout=DEADLINE_S)
        counted_s = time.monotonic() - start if counted else float("inf")
    reread = allow.reloads > reloads
    revoked_s, probes = _revocation(pub.endpoint, allowed / "revoked.key", clients)
    kept = _handshake(pub.endpoint, clients["honest"])
    return AllowFigures(reread, counted_s, revoked_s, probes, kept)


def _revocation(
    endpoint: str, key_file: Path, clients: dict[str, CurveClient]
) -> tuple[float, int]:
    """Remove *key_file*; its key tries new handshakes until one fails: how long, how many."""
    key_file.unlink()
    start = time.monotonic()
    probes = 0
    while time.monotonic() - start < DEADLINE_S:
        probes += 1
        if not _handshake(endpoint, clients["revoked"]):
            return time.monotonic() - start, probes
    return float("inf"), probes


def _handshake(endpoint: str, keys: CurveClient) -> bool:
    """Whether a fresh connection with *keys* completes its CURVE handshake (a monitor says)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    sock: zmq.Socket[bytes] = ctx.socket(zmq.SUB)
    sock.setsockopt(zmq.LINGER, 0)
    apply_client(sock, keys)
    monitor = sock.get_monitor_socket(_OUTCOMES)
    try:
        sock.connect(endpoint)
        if not monitor.poll(int(HANDSHAKE_S * 1000)):
            raise RuntimeError(f"no handshake outcome within {HANDSHAKE_S:g} s")
        event = recv_monitor_message(monitor)
        return bool(event["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED)
    finally:
        sock.disable_monitor()
        monitor.close(linger=0)
        sock.close()


def _release(fifo: Path) -> None:
    """Let go an authenticator stuck opening *fifo* (the bug): open its write end a moment."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return  # nobody waits on it (ENXIO), or it is gone
    os.close(fd)
