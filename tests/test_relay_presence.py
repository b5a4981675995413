"""Presence through relays: bursts counted exactly, shares kept per key behind a relay."""

from __future__ import annotations

import contextlib
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


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Path]:
    """Key pairs for pub, relay, flooder and honest; the publisher's allow-list
    (``pub-allow``) declares the relay (``relay.relay``), the relay's (``relay-allow``)
    holds flooder and honest."""
    made: dict[str, Path] = {}
    for name in ("pub", "relay", "relay2", "flooder", "honest"):
        made[name], made[name + ".secret"] = create_keys(tmp_path / name, name)
    made["pub-allow"], made["relay-allow"] = tmp_path / "pub-allow", tmp_path / "relay-allow"
    made["pub-allow"].mkdir()
    made["relay-allow"].mkdir()
    (made["pub-allow"] / "relay.relay").write_bytes(made["relay"].read_bytes())  # a relay
    for name in ("flooder", "honest"):
        (made["relay-allow"] / f"{name}.key").write_bytes(made[name].read_bytes())
    return made


def keyed_relay(keys: dict[str, Path], pub: Publisher) -> Relay:
    """A relay to *pub* with CURVE on both hops and its own allow-list downstream."""
    return Relay(
        pub.endpoint,
        "tcp://127.0.0.1:*",
        frontend_security=CurveClient.from_files(keys["relay.secret"], keys["pub"]),
        backend_security=CurveServer.from_files(keys["relay.secret"], str(keys["relay-allow"])),
    )


def curve_sub(
    raw_subs: list[zmq.Socket[bytes]], keys: dict[str, Path], name: str, server: str, endpoint: str
) -> zmq.Socket[bytes]:
    """A raw CURVE SUB with *name*'s key pair, pinning *server*'s key, connected to *endpoint*."""
    public, secret = zmq.auth.load_certificate(keys[name + ".secret"])
    return raw_sub(
        raw_subs,
        endpoint,
        curve_secretkey=secret,
        curve_publickey=public,
        curve_serverkey=zmq.auth.load_certificate(keys[server])[0],
    )


@pytest.mark.slow
@pytest.mark.parametrize("tiers", [1, 2])
def test_a_flooder_behind_a_declared_relay_leaves_an_honest_listener_counted(
    keys: dict[str, Path], raw_subs: list[zmq.Socket[bytes]], tiers: int
) -> None:
    """Publisher -> relay [-> relay2] -> {flooder, honest}, CURVE on every hop, each relay
    declared in the allow-list above it (``NAME.relay``). The flooder's key floods more
    presence subscriptions than one key's share: the last relay forwards its share only,
    no relay's key is held to one key's share above it, and an honest subscriber behind
    the same relay is counted at once."""
    server = CurveServer.from_files(keys["pub.secret"], str(keys["pub-allow"]))
    with contextlib.ExitStack() as stack:
        pub = stack.enter_context(Publisher("tcp://127.0.0.1:*", channel="c", security=server))
        hop = stack.enter_context(keyed_relay(keys, pub))
        top_relay = z85(keys["relay"])
        if tiers == 2:  # relay2, declared in relay's allow-list, holds flooder and honest
            allow2 = keys["relay-allow"].parent / "relay2-allow"
            allow2.mkdir()
            for name in ("flooder", "honest"):
                (keys["relay-allow"] / f"{name}.key").rename(allow2 / f"{name}.key")
            (keys["relay-allow"] / "relay2.relay").write_bytes(keys["relay2"].read_bytes())
            hop = stack.enter_context(
                Relay(
                    hop.backend,
                    "tcp://127.0.0.1:*",
                    frontend_security=CurveClient.from_files(keys["relay2.secret"], keys["relay"]),
                    backend_security=CurveServer.from_files(keys["relay2.secret"], str(allow2)),
                )
            )
            keys = {**keys, "relay": keys["relay2"]}  # whom flooder and honest pin
        pub.open_session("s")
        flooder = curve_sub(raw_subs, keys, "flooder", "relay", hop.backend)
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
            assert pub.listener_keys("s") == {top_relay: MAX_LISTENERS_PER_KEY + 1}


@pytest.mark.parametrize("through", ["direct", "keyed relay"])
def test_under_curve_a_listener_whose_connection_ends_is_no_longer_counted(
    keys: dict[str, Path], raw_subs: list[zmq.Socket[bytes]], through: str
) -> None:
    """A CURVE peer that never unsubscribes (killed, or its connection dropped): the
    leaves libzmq makes up for it carry no key, and still remove its listener, at the
    publisher directly and through a relay that keeps keys apart."""
    (keys["pub-allow"] / "honest.key").write_bytes(keys["honest"].read_bytes())
    server = CurveServer.from_files(keys["pub.secret"], str(keys["pub-allow"]))
    with Publisher("tcp://127.0.0.1:*", channel="c", security=server) as pub:
        pub.open_session("s")
        with contextlib.ExitStack() as stack:
            if through == "direct":
                peer = curve_sub(raw_subs, keys, "honest", "pub", pub.endpoint)
            else:
                hop = stack.enter_context(keyed_relay(keys, pub))
                peer = curve_sub(raw_subs, keys, "honest", "relay", hop.backend)
            peer.subscribe(marker_topic(TOPIC, b"gone-soon"))
            assert pub.wait_for_listener("s", timeout=DEADLINE_S)
            peer.close(linger=0)  # no unsubscription sent: the connection just ends
            wait_until(lambda: pub.listeners("s") == 0, what="the ended listener to be dropped")


def test_a_keyed_relay_forwards_messages_whole_and_counts_them(keys: dict[str, Path]) -> None:
    """The relay's own loop (a backend allow-list) forwards two-part messages as one,
    between small ones, in order, and counts each message once."""
    from radio.core.wire import PART_THRESHOLD

    payloads = [b"small", b"\x01" * PART_THRESHOLD, b"x" * (4 * PART_THRESHOLD), b"end"]
    server = CurveServer.from_files(keys["pub.secret"], str(keys["pub-allow"]))
    honest = CurveClient.from_files(keys["honest.secret"], keys["relay"])
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", security=server) as pub,
        keyed_relay(keys, pub) as hop,
        Subscriber(hop.backend, channel="c", security=honest) as sub,
    ):
        pub.open_session("s")
        sub.tune_in("s")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        before = hop.messages
        for payload in payloads:
            pub.send("s", payload)
        got = [sub.recv(timeout=DEADLINE_S) for _ in payloads]
        assert [(m.seq, m.payload) for m in got if m is not None] == list(enumerate(payloads, 1))
        assert (sub.stats.malformed, sub.stats.gaps) == (0, 0)
        wait_until(lambda: hop.messages - before >= len(payloads), what="the relay's count")
        assert hop.subscribers == 1
