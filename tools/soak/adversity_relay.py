"""Hostile-load measurements through relays: a flooder's share, and a burst counted exactly."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
import zmq.auth

from radio import CurveClient, CurveServer, Publisher, Subscriber, create_keys
from radio.core.names import marker_topic, session_topic
from radio.core.presence import MAX_LISTENERS_PER_KEY
from radio.relay import Relay
from tools.soak.adversity_desk import DEADLINE_S
from tools.soak.bounds import Row, seconds, waited

HONEST_BOUND_S: Final[float] = 1.0
"""Longest an honest subscriber behind the flooded relay may take to be counted."""

FLOOD_EXTRA: Final[int] = 500
"""Markers the flooder sends beyond one key's share."""

BURST_SOCKETS: Final[int] = 4
"""Raw SUBs the burst is spread over."""

BURST_DEADLINE_S: Final[float] = 30.0
"""Longest the publisher may take to count the whole burst, and to count its leave."""


def _sub(made: list[zmq.Socket[bytes]], endpoint: str, **curve: bytes) -> zmq.Socket[bytes]:
    """A raw SUB connected to *endpoint* that never cuts a flood short (SNDHWM 0)."""
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    made.append(sock)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.LINGER, 0)
    for option, value in curve.items():
        setattr(sock, option, value)
    sock.connect(endpoint)
    return sock


@contextlib.contextmanager
def _raw_subs() -> Iterator[list[zmq.Socket[bytes]]]:
    made: list[zmq.Socket[bytes]] = []
    try:
        yield made
    finally:
        for sock in made:
            sock.close(linger=0)


def _burst(sockets: list[zmq.Socket[bytes]], topic: bytes, count: int, prefix: bytes) -> None:
    """Subscribe *count* presence markers of *topic* with distinct IDs, spread over *sockets*."""
    for i in range(count):
        sockets[i % len(sockets)].subscribe(marker_topic(topic, b"%s%07d" % (prefix, i)))


@dataclass(frozen=True)
class RelayFloodFigures:
    """What a flooder behind a declared relay kept, and how soon an honest peer was counted."""

    flood: int
    share: int
    kept: int  # the flooder's markers the publisher counts
    refused: int  # refused by the relay, at the flooder's share
    honest_s: float  # from its creation until the publisher counted the honest subscriber

    @property
    def met(self) -> bool:
        return self.kept <= self.share and self.honest_s < HONEST_BOUND_S

    def row(self) -> Row:
        return Row(
            f"a flooder behind a relay declared `NAME.relay` ({self.flood:,} markers), "
            "an honest subscriber behind the same relay",
            f"flooder kept {self.kept:,} (share {self.share:,}), {self.refused:,} refused "
            f"at the relay; honest counted in {seconds(self.honest_s)}",
            f"flooder kept at most its share; honest counted within {seconds(HONEST_BOUND_S)}",
            self.met,
        )


def relay_flood(extra: int = FLOOD_EXTRA) -> RelayFloodFigures:
    """Publisher -> keyed relay -> {flooder, honest}, CURVE on both hops, the relay declared.

    The flooder's key subscribes one share plus *extra* presence markers; once the
    relay has handled them all an honest subscriber of another key tunes in.
    """
    share = MAX_LISTENERS_PER_KEY
    flood = share + extra
    with tempfile.TemporaryDirectory() as tmp, _raw_subs() as made:
        keys = _keys(Path(tmp))
        server = CurveServer.from_files(keys["pub.secret"], str(keys["pub-allow"]))
        with (
            Publisher("tcp://127.0.0.1:*", channel="relayed", security=server) as pub,
            Relay(
                pub.endpoint,
                "tcp://127.0.0.1:*",
                frontend_security=CurveClient.from_files(keys["relay.secret"], keys["pub"]),
                backend_security=CurveServer.from_files(
                    keys["relay.secret"], str(keys["relay-allow"])
                ),
            ) as hop,
        ):
            pub.open_session("s")
            public, secret = zmq.auth.load_certificate(keys["flooder.secret"])
            assert secret is not None
            flooder = _sub(
                made,
                hop.backend,
                curve_secretkey=secret,
                curve_publickey=public,
                curve_serverkey=zmq.auth.load_certificate(keys["relay"])[0],
            )
            _burst([flooder], session_topic(pub.channel, "s"), flood, b"flood")
            presence = hop._presence  # the relay's own count of what it refused
            # the relay refuses what passes the share; the publisher counts the rest (on
            # code that does not, this gives up at the deadline and the figures say so)
            waited(lambda: pub.listeners("s") >= share and presence.refused >= extra, DEADLINE_S)
            kept = pub.listeners("s")  # the relay forwarded all it would: the flooder's count
            honest = CurveClient.from_files(keys["honest.secret"], keys["relay"])
            start = time.monotonic()  # its handshake with the relay included
            with Subscriber(hop.backend, channel="relayed", security=honest) as sub:
                sub.tune_in("s")
                counted = pub.wait_for_listener("s", timeout=DEADLINE_S, count=kept + 1)
                honest_s = time.monotonic() - start if counted else float("inf")
            return RelayFloodFigures(flood, share, kept, presence.refused, honest_s)


def _keys(folder: Path) -> dict[str, Path]:
    """Key pairs for pub, relay, flooder and honest, and the two allow-lists.

    The publisher's (``pub-allow``) declares the relay (``relay.relay``); the
    relay's (``relay-allow``) holds flooder and honest.
    """
    made: dict[str, Path] = {}
    for name in ("pub", "relay", "flooder", "honest"):
        made[name], made[name + ".secret"] = create_keys(folder / name, name)
    made["pub-allow"], made["relay-allow"] = folder / "pub-allow", folder / "relay-allow"
    made["pub-allow"].mkdir()
    made["relay-allow"].mkdir()
    (made["pub-allow"] / "relay.relay").write_bytes(made["relay"].read_bytes())
    for name in ("flooder", "honest"):
        (made["relay-allow"] / f"{name}.key").write_bytes(made[name].read_bytes())
    return made


@dataclass(frozen=True)
class BurstFigures:
    """How the publisher counted a burst of presence subscriptions through a default relay."""

    burst: int
    counted: int  # the publisher's count once it settled (or at the deadline)
    most: int  # the highest count seen on the way
    counted_s: float  # until the publisher counted exactly the burst; inf: never
    left: int  # the publisher's count after every subscriber of the burst left
    left_s: float  # until it counted 0; inf: never

    @property
    def met(self) -> bool:
        return (
            self.counted == self.most == self.burst
            and self.counted_s < BURST_DEADLINE_S
            and self.left == 0
            and self.left_s < BURST_DEADLINE_S
        )

    def row(self) -> Row:
        return Row(
            f"a burst of {self.burst:,} presence subscriptions through a default relay, "
            "then all leave",
            f"counted {self.counted:,} (most seen {self.most:,}) in "
            f"{seconds(self.counted_s)}; {self.left:,} after the leave, in "
            f"{seconds(self.left_s)}",
            f"exactly {self.burst:,}, then 0, each within {seconds(BURST_DEADLINE_S)}",
            self.met,
        )


def relay_burst(burst: int = 10_000) -> BurstFigures:
    """Measure a burst of presence subscriptions through a relay with default settings.

    *burst* markers at once from `BURST_SOCKETS` raw SUBs; then the raw SUBs close.
    """
    with (
        _raw_subs() as made,
        Publisher("tcp://127.0.0.1:*", channel="burst") as pub,
        Relay(pub.endpoint, "tcp://127.0.0.1:*") as hop,
    ):
        pub.open_session("s")
        sockets = [_sub(made, hop.backend) for _ in range(BURST_SOCKETS)]
        most = [0]

        def count_is(wanted: int) -> bool:
            now = pub.listeners("s")
            most[0] = max(most[0], now)
            return now == wanted

        start = time.monotonic()
        _burst(sockets, session_topic(pub.channel, "s"), burst, b"")
        heard = waited(lambda: count_is(burst), BURST_DEADLINE_S) != float("inf")
        counted_s = time.monotonic() - start if heard else float("inf")  # from the first
        counted = pub.listeners("s")
        most[0] = max(most[0], counted)
        for sock in sockets:
            sock.close(linger=0)
        left_s = waited(lambda: pub.listeners("s") == 0, BURST_DEADLINE_S)
        return BurstFigures(burst, counted, most[0], counted_s, pub.listeners("s"), left_s)
