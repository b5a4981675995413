"""Adversity: presence under forged, flooding and key-borrowing peers over real sockets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import zmq
import zmq.auth

import radio.publisher
import radio.service
from radio import CurveClient, CurveServer, Publisher, Subscriber, create_keys
from radio.core.names import marker_topic, session_topic
from radio.core.presence import MAX_LISTENERS
from tests.helpers import DEADLINE_S, wait_until

TOPIC = session_topic("c", "s")
FLOOD = 200_000
FLOOD_SOCKETS = 4
RSS_BOUND_MIB = 200


def rss_mib() -> float:
    """This process's resident set size, in MiB (from /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def raw_sub(made: list[zmq.Socket[bytes]], endpoint: str, **curve: bytes) -> zmq.Socket[bytes]:
    """A raw SUB (no radio) connected to *endpoint*; CURVE when keys are given.

    Subscriptions are messages subject to the SUB's SNDHWM: unlimited here, so a
    flood is never cut short on the sending side.
    """
    sock = zmq.Context.instance().socket(zmq.SUB)
    made.append(sock)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.setsockopt(zmq.LINGER, 0)
    for option, value in curve.items():
        setattr(sock, option, value)
    sock.connect(endpoint)
    return sock


@pytest.fixture
def curve(tmp_path: Path) -> dict[str, Path]:
    """A server key pair and two client key pairs, A and B, both on the allow-list."""
    made: dict[str, Path] = {}
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    for name in ("server", "a", "b"):
        public, secret = create_keys(tmp_path / name, name)
        made[name], made[f"{name}.secret"] = public, secret
        if name != "server":
            (allowed / f"{name}.key").write_bytes(public.read_bytes())
    made["allowed"] = allowed
    return made


def z85(public_file: Path) -> str:
    """The Z85 text of the public key in *public_file* (as listener_keys names it)."""
    return zmq.auth.load_certificate(public_file)[0].decode("ascii")


def test_a_leaked_id_lets_another_key_neither_remove_nor_impersonate_a_listener(
    curve: dict[str, Path], raw_subs: list[zmq.Socket[bytes]]
) -> None:
    """Under CURVE a raw peer with key B joins and leaves A's presence marker (A's ID
    leaked) and joins with made-up IDs: A stays counted once under A's key, and every
    forged join shows under B's key only, until B takes it back."""
    server = CurveServer.from_files(curve["server.secret"], str(curve["allowed"]))
    client_a = CurveClient.from_files(curve["a.secret"], curve["server"])
    key_a, key_b = z85(curve["a"]), z85(curve["b"])
    public_b, secret_b = zmq.auth.load_certificate(curve["b.secret"])
    server_key = zmq.auth.load_certificate(curve["server"])[0]
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", security=server) as pub,
        Subscriber(pub.endpoint, channel="c", security=client_a) as sub_a,
    ):
        pub.open_session("s")
        sub_a.tune_in("s")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        assert pub.listener_keys("s") == {key_a: 1}
        rogue = raw_sub(
            raw_subs,
            pub.endpoint,
            curve_secretkey=secret_b,
            curve_publickey=public_b,
            curve_serverkey=server_key,
        )
        stolen = marker_topic(TOPIC, sub_a._id)
        forged = [marker_topic(TOPIC, b"forged%d" % i) for i in range(2)]
        for topic in (stolen, *forged):
            rogue.subscribe(topic)
        wait_until(lambda: pub.listener_keys("s").get(key_b) == 3, what="B's joins to be seen")
        assert pub.listener_keys("s") == {key_a: 1, key_b: 3}
        for topic in (stolen, *forged):
            rogue.unsubscribe(topic)
        wait_until(lambda: key_b not in pub.listener_keys("s"), what="B's leaves to be seen")
        assert pub.listeners("s") == 1
        assert pub.listener_keys("s") == {key_a: 1}


def test_without_curve_a_raw_peer_adds_a_phantom_that_goes_with_its_connection(
    raw_subs: list[zmq.Socket[bytes]],
) -> None:
    """Without CURVE nothing authenticates presence, so this is what a peer CAN do:
    a raw SUB subscribing to ``topic + b"\\x00" + made-up ID`` is counted as a listener
    (a phantom) beside the real one. The phantom is bound to that peer's connection:
    when the raw peer disconnects, libzmq reports its unsubscriptions and the count
    drops back to the real listener alone."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s")
        sub.tune_in("s")
        assert pub.wait_for_listener("s", timeout=DEADLINE_S)
        rogue = raw_sub(raw_subs, pub.endpoint)
        rogue.subscribe(marker_topic(TOPIC, b"phantom"))
        wait_until(lambda: pub.listeners("s") == 2, what="the phantom to be counted")
        assert pub.listener_keys("s") == {"": 2}
        rogue.close(linger=0)
        wait_until(lambda: pub.listeners("s") == 1, what="the phantom to leave with its peer")
        assert pub.listeners("s") == 1


def test_a_service_pass_stops_reading_subscription_events_at_its_time_bound(
    raw_subs: list[zmq.Socket[bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass over subscription events holds the lock for at most MAX_EVENTS_PASS_S
    (a flood's events wait for the next pass, so a send is never held up by them all);
    passes made one after another still handle every event."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s")
        pub._service.stop()  # passes are made by hand below
        rogue = raw_sub(raw_subs, pub.endpoint)
        for i in range(50):
            rogue.subscribe(marker_topic(TOPIC, b"forged-%d" % i))
        with pub._wire, pub._lock:
            wait_until(lambda: pub._socket.poll(0), what="subscription events waiting")
            monkeypatch.setattr(radio.service, "MAX_EVENTS_PASS_S", -1.0)
            assert pub._drain_events(time.time()) is True  # out of time before the first
            assert pub._core.presence.size == 0
            monkeypatch.setattr(radio.service, "MAX_EVENTS_PASS_S", 1.0)

            def passes() -> bool:
                pub._drain_events(time.time())
                return pub._core.presence.size == 50

            wait_until(passes, what="every event handled, pass after pass")


def test_a_send_reads_a_few_subscription_events_at_most_and_leaves_the_rest(
    raw_subs: list[zmq.Socket[bytes]],
) -> None:
    """A send never handles a flood of subscription events inline: when the service
    thread is late (no pass for SEND_SERVICE_AFTER_S) a send reads MAX_EVENTS_PER_SEND
    of them at most, and the next service pass reads the rest."""
    endpoint = f"inproc://presence-{id(raw_subs)}"
    with Publisher(endpoint, channel="c") as pub:
        pub.open_session("s")
        pub._service.stop()  # passes are made by hand below
        rogue = pub._context.socket(zmq.SUB)  # inproc: all 50 are queued once subscribe returns
        raw_subs.append(rogue)
        rogue.connect(endpoint)
        for i in range(50):
            rogue.subscribe(marker_topic(TOPIC, b"forged-%d" % i))
        presence = pub._core.presence
        pub._next_service = 0.0  # the service thread is late: the send services the socket
        pub.send("s", b"x")
        assert presence.size == radio.publisher.MAX_EVENTS_PER_SEND
        assert pub.listeners("s") == 50  # a pass reads the rest


def flood(raw_subs: list[zmq.Socket[bytes]], pub: Publisher) -> None:
    """Send FLOOD presence subscriptions with distinct made-up IDs from raw SUBs, and
    wait until the publisher has handled every one (tracked or refused)."""
    presence = pub._core.presence
    per_socket = FLOOD // FLOOD_SOCKETS
    for n in range(FLOOD_SOCKETS):
        sock = raw_sub(raw_subs, pub.endpoint)
        for i in range(per_socket):
            sock.subscribe(marker_topic(TOPIC, b"%d-%07d" % (n, i)))
    wait_until(
        lambda: pub.listeners("s") >= 0 and presence.size + presence.refused >= FLOOD,
        timeout=30.0,
        what="the publisher to handle the whole flood",
    )


def test_a_presence_flood_is_capped_and_costs_bounded_memory(
    raw_subs: list[zmq.Socket[bytes]],
) -> None:
    """200,000 forged presence subscriptions with distinct IDs: the publisher tracks at
    most MAX_LISTENERS pairs, counts the rest as refused, and its memory grows by less
    than RSS_BOUND_MIB."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s")
        before = rss_mib()
        flood(raw_subs, pub)
        presence = pub._core.presence
        assert presence.size == MAX_LISTENERS
        assert presence.refused == FLOOD - MAX_LISTENERS
        assert pub.listeners("s") == MAX_LISTENERS
        grown = rss_mib() - before
        assert grown < RSS_BOUND_MIB, f"publisher RSS grew {grown:.0f} MiB under the flood"


@pytest.mark.slow
def test_the_cap_is_total_and_an_honest_listener_is_counted_once_the_flood_leaves(
    raw_subs: list[zmq.Socket[bytes]],
) -> None:
    """The cap is total (not per peer): an honest subscriber tuning in while the flood
    holds every slot is refused (counted in ``refused``, not a listener). Once the
    flooding peers disconnect, their pairs are freed and the honest subscriber, still
    tuned in, is counted (wait_for_listener succeeds) without re-tuning."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s")
        flood(raw_subs, pub)
        presence = pub._core.presence
        refused = presence.refused
        with Subscriber(pub.endpoint, channel="c") as honest:
            honest.tune_in("s")
            # its channel marker and its session marker: both refused, the cap is full
            wait_until(
                lambda: pub.listeners("s") >= 0 and presence.refused >= refused + 2,
                what="the honest subscriber's markers to be refused",
            )
            assert pub.listeners("s") == MAX_LISTENERS
            for sock in raw_subs:
                sock.close(linger=0)
            wait_until(
                lambda: pub.listeners("s") <= 1 and presence.size <= 2,
                timeout=30.0,
                what="the flood's pairs to be freed",
            )
            assert pub.wait_for_listener("s", timeout=5.0), (
                f"honest listener not counted after the flood left: "
                f"listeners={pub.listeners('s')} tracked={presence.size} "
                f"refused={presence.refused}"
            )
            assert pub.listeners("s") == 1
