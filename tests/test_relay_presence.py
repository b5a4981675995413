"""Presence through relays: bursts counted exactly, shares kept per key behind a relay."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
import zmq.auth

from radio import CurveClient, CurveServer, Publisher, Subscriber, create_keys
from radio.core.names import marker_topic, session_topic
from radio.core.presence import MAX_LISTENERS_PER_KEY
from radio.relay import Relay
from tests.helpers import DEADLINE_S, wait_until
from tests.test_adversity_presence import raw_sub

TOPIC = session_topic("c", "s")
BURST = 10_000
BURST_SOCKETS = 4
FLOOD = MAX_LISTENERS_PER_KEY + 500  # more than one key's share


@pytest.fixture
def raw_subs() -> Iterator[list[zmq.Socket[bytes]]]:
    """Raw pyzmq SUB sockets made by the test; all closed at the end."""
    made: list[zmq.Socket[bytes]] = []
    yield made
    for sock in made:
        sock.close(linger=0)


def burst(sockets: list[zmq.Socket[bytes]], count: int, prefix: bytes = b"") -> None:
    """Subscribe *count* presence markers of TOPIC with distinct IDs, spread over *sockets*."""
    for i in range(count):
        sockets[i % len(sockets)].subscribe(marker_topic(TOPIC, b"%s%07d" % (prefix, i)))


def test_a_burst_of_subscriptions_through_a_default_relay_is_counted_exactly(
    raw_subs: list[zmq.Socket[bytes]],
) -> None:
    """10,000 presence subscriptions at once through a relay with its default high-water
    mark (1000): every one reaches the publisher, which counts exactly 10,000; and every
    unsubscription too, when their peers leave."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Relay(pub.endpoint, "tcp://127.0.0.1:*") as hop,
    ):
        pub.open_session("s")
        assert hop.hwm == 1000
        sockets = [raw_sub(raw_subs, hop.backend) for _ in range(BURST_SOCKETS)]
        burst(sockets, BURST)
        wait_until(
            lambda: pub.listeners("s") == BURST,
            timeout=30.0,
            what=f"the publisher to count all {BURST} subscriptions through the relay",
        )
        for sock in sockets:
            sock.close(linger=0)
        wait_until(
            lambda: pub.listeners("s") == 0,
            timeout=30.0,
            what="every unsubscription to cross the relay",
        )


def z85(public_file: Path) -> str:
    """The Z85 text of the public key in *public_file* (as listener_keys names it)."""
    return zmq.auth.load_certificate(public_file)[0].decode("ascii")


@pytest.mark.slow
def test_a_flooder_behind_a_declared_relay_leaves_an_honest_listener_counted(
    tmp_path: Path, raw_subs: list[zmq.Socket[bytes]]
) -> None:
    """Publisher -> relay -> {flooder, honest}, CURVE on both hops, the relay declared in
    the publisher's allow-list (``relay.relay``). The flooder's key floods more presence
    subscriptions than one key's share: the relay forwards its share only, the publisher
    does not hold the relay's key to one key's share, and an honest subscriber behind the
    same relay is counted at once."""
    keys: dict[str, Path] = {}
    for name in ("pub", "relay", "flooder", "honest"):
        keys[name], keys[name + ".secret"] = create_keys(tmp_path / name, name)
    pub_allow, relay_allow = tmp_path / "pub-allow", tmp_path / "relay-allow"
    pub_allow.mkdir()
    relay_allow.mkdir()
    (pub_allow / "relay.relay").write_bytes(keys["relay"].read_bytes())  # declared a relay
    for name in ("flooder", "honest"):
        (relay_allow / f"{name}.key").write_bytes(keys[name].read_bytes())
    public, secret = zmq.auth.load_certificate(keys["flooder.secret"])
    relay_public = zmq.auth.load_certificate(keys["relay"])[0]
    with (
        Publisher(
            "tcp://127.0.0.1:*",
            channel="c",
            security=CurveServer.from_files(keys["pub.secret"], str(pub_allow)),
        ) as pub,
        Relay(
            pub.endpoint,
            "tcp://127.0.0.1:*",
            frontend_security=CurveClient.from_files(keys["relay.secret"], keys["pub"]),
            backend_security=CurveServer.from_files(keys["relay.secret"], str(relay_allow)),
        ) as hop,
    ):
        pub.open_session("s")
        flooder = raw_sub(
            raw_subs,
            hop.backend,
            curve_secretkey=secret,
            curve_publickey=public,
            curve_serverkey=relay_public,
        )
        burst([flooder], FLOOD, b"flood")
        wait_until(
            lambda: pub.listeners("s") >= MAX_LISTENERS_PER_KEY,
            timeout=60.0,
            what="the flooder's share to be counted",
        )
        honest = CurveClient.from_files(keys["honest.secret"], keys["relay"])
        with Subscriber(hop.backend, channel="c", security=honest) as sub:
            sub.tune_in("s")
            assert pub.wait_for_listener("s", timeout=DEADLINE_S, count=MAX_LISTENERS_PER_KEY + 1)
            assert pub.listeners("s") == MAX_LISTENERS_PER_KEY + 1  # the flooder's share, no more
            assert pub.listener_keys("s") == {z85(keys["relay"]): MAX_LISTENERS_PER_KEY + 1}
