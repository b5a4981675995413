"""Relays: publisher -> relay -> relay -> subscribers, in separate processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from radio import Publisher, Subscriber
from radio.relay import Relay
from tests.helpers import (
    DEADLINE_S,
    default_sigint,
    drain,
    free_tcp_endpoint,
    recv_all,
    wait_until,
)

BIN = Path(sys.executable).parent

RelayProc = Callable[..., subprocess.Popen[str]]


@pytest.fixture
def relay() -> Iterator[RelayProc]:
    """Start radio-relay processes; all are stopped at the end."""
    started: list[subprocess.Popen[str]] = []

    def start(frontend: str, backend: str, *extra: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [
                str(BIN / "radio-relay"),
                "--frontend",
                frontend,
                "--backend",
                backend,
                "--log-format",
                "json",
                *extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=default_sigint,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=DEADLINE_S)


def test_messages_and_presence_cross_two_relays(relay: RelayProc) -> None:
    """The publisher counts a subscriber two relays away, and hears it leave."""
    hop1, hop2 = free_tcp_endpoint(), free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        relay(pub.endpoint, hop1)
        relay(hop1, hop2)
        pub.open_session("s1")
        with Subscriber(hop2, channel="c") as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            assert pub.listeners("s1") == 1
            for i in range(100):
                pub.send("s1", b"%d" % i)
            assert [m.seq for m in recv_all(sub, 100)] == list(range(1, 101))
        wait_until(lambda: pub.listeners("s1") == 0, what="the leave to cross both relays")


def test_no_stale_message_through_relays_when_a_relay_and_a_subscriber_restart(
    relay: RelayProc,
) -> None:
    """Kill the last relay and the subscriber, broadcast on, start both again in a new
    session: every new-session message arrives and none of the old session."""
    hop1, hop2 = free_tcp_endpoint(), free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        relay(pub.endpoint, hop1)
        second = relay(hop1, hop2)
        pub.open_session("s1")
        first_sub = Subscriber(hop2, channel="c")
        first_sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"heard")
        assert recv_all(first_sub, 1)[0].payload == b"heard"
        second.kill()
        second.wait()
        wait_until(lambda: pub.listeners("s1") == 0, what="the dead relay's listeners to go")
        for _ in range(500):
            pub.send("s1", b"old")
        first_sub.close()
        pub.close_session("s1")
        pub.open_session("s2")
        relay(hop1, hop2)
        with Subscriber(hop2, channel="c") as sub:
            sub.tune_in("s2")
            assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
            for i in range(200):
                pub.send("s2", b"new %d" % i)
            got = recv_all(sub, 200) + drain(sub)
        assert [(m.session, m.seq) for m in got] == [("s2", i) for i in range(1, 201)]


def test_follower_behind_relays_moves_to_the_new_session(relay: RelayProc) -> None:
    """Beacons cross relays too: a follower two hops away switches without mixing."""
    hop1, hop2 = free_tcp_endpoint(), free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        relay(pub.endpoint, hop1)
        relay(hop1, hop2)
        with Subscriber(hop2, channel="c") as sub:
            sub.follow()
            pub.open_session("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.open_session("s2")
            assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
            for i in range(50):
                pub.send("s1", b"late old %d" % i)
                pub.send("s2", b"new %d" % i)
            got = recv_all(sub, 50) + drain(sub)
        assert [(m.session, m.seq) for m in got] == [("s2", i) for i in range(1, 51)]


def test_relay_reports_throughput_and_subscribers(relay: RelayProc) -> None:
    """relay_stats on stderr: messages forwarded and radio subscribers behind it."""
    hop = free_tcp_endpoint()
    reports: list[dict[str, int]] = []
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        proc = relay(pub.endpoint, hop, "--report-interval", "0.2")

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                if '"relay_stats"' in line:
                    reports.append(json.loads(line))

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        pub.open_session("s1")
        with Subscriber(hop, channel="c") as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            for _ in range(100):
                pub.send("s1", b"x")
            recv_all(sub, 100)
            wait_until(
                lambda: any(r["messages"] >= 100 and r["subscribers"] == 1 for r in reports),
                what="a report of 100 messages and 1 subscriber",
            )
            os.kill(proc.pid, signal.SIGINT)
            assert proc.wait(timeout=DEADLINE_S) == 130
        reader.join(timeout=DEADLINE_S)


def test_relay_in_process_closes_cleanly() -> None:
    """radio.Relay as a library: forwards, counts, and closes without hanging."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Relay(pub.endpoint, "tcp://127.0.0.1:*") as hop,
        Subscriber(hop.backend, channel="c") as sub,
    ):
        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"through")
        assert recv_all(sub, 1)[0].payload == b"through"
        wait_until(lambda: hop.subscribers == 1, what="the relay to count its subscriber")


def test_large_payloads_cross_a_relay_whole() -> None:
    """Two-part messages (payloads over wire.PART_THRESHOLD) cross the proxy as one
    message each, between small ones, and the relay counts each message once."""
    from radio.core.wire import PART_THRESHOLD

    payloads = [b"small", b"\x01" * PART_THRESHOLD, b"x" * (4 * PART_THRESHOLD), b"end"]
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Relay(pub.endpoint, "tcp://127.0.0.1:*") as hop,
        Subscriber(hop.backend, channel="c") as sub,
    ):
        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        before = hop.messages
        for payload in payloads:
            pub.send("s1", payload)
        got = recv_all(sub, len(payloads))
        assert [m.payload for m in got] == payloads
        assert [m.seq for m in got] == [1, 2, 3, 4]
        assert (sub.stats.malformed, sub.stats.gaps) == (0, 0)
        wait_until(lambda: hop.messages - before >= len(payloads), what="the relay's count")
        assert hop.subscribers == 1  # a payload starting with 0x01 is no subscription


def test_curve_on_each_hop(tmp_path: Path) -> None:
    """Publisher -> relay -> subscriber with CURVE on both hops; a stranger is refused."""
    from radio import CurveClient, CurveServer, create_keys

    keys = {}
    for name in ("pub", "relay", "sub", "stranger"):
        keys[name], keys[name + ".secret"] = create_keys(tmp_path / name, name)
    pub_allow, relay_allow = tmp_path / "pub-allow", tmp_path / "relay-allow"
    pub_allow.mkdir()
    relay_allow.mkdir()
    (pub_allow / "relay.key").write_bytes(keys["relay"].read_bytes())
    (relay_allow / "sub.key").write_bytes(keys["sub"].read_bytes())
    server = CurveServer.from_files(keys["pub.secret"], str(pub_allow))
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", security=server) as pub,
        Relay(
            pub.endpoint,
            "tcp://127.0.0.1:*",
            frontend_security=CurveClient.from_files(keys["relay.secret"], keys["pub"]),
            backend_security=CurveServer.from_files(keys["relay.secret"], str(relay_allow)),
        ) as hop,
    ):
        pub.open_session("s1")
        allowed = CurveClient.from_files(keys["sub.secret"], keys["relay"])
        with Subscriber(hop.backend, channel="c", security=allowed) as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
            pub.send("s1", b"two hops, encrypted")
            assert recv_all(sub, 1)[0].payload == b"two hops, encrypted"
        wait_until(lambda: pub.listeners("s1") == 0, what="the subscriber to leave")
        stranger = CurveClient.from_files(keys["stranger.secret"], keys["relay"])
        with Subscriber(hop.backend, channel="c", security=stranger) as sub:
            sub.tune_in("s1")
            assert pub.wait_for_listener("s1", timeout=1.0) is False


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--frontend", "nope", "--backend", "tcp://127.0.0.1:1"], "invalid endpoint 'nope'"),
        (
            ["--frontend", "tcp://127.0.0.1:1", "--backend", "tcp://127.0.0.1:2", "--hwm", "-1"],
            "invalid hwm -1",
        ),
        (
            [
                "--frontend",
                "tcp://127.0.0.1:1",
                "--backend",
                "tcp://127.0.0.1:2",
                "--backend-curve-secret",
                "x",
            ],
            "go together",
        ),
        (
            [
                "--frontend",
                "tcp://127.0.0.1:1",
                "--backend",
                "tcp://127.0.0.1:2",
                "--frontend-curve-server",
                "x",
            ],
            "--frontend-curve-secret and --frontend-curve-server go together",
        ),
        (["--backend", "tcp://127.0.0.1:2"], "Missing option '--frontend'"),
    ],
)
def test_radio_relay_bad_input_exits_2(args: list[str], reason: str) -> None:
    """Usage errors name the bad value, never a traceback."""
    from click.testing import CliRunner
    from radio.cli import relay as relay_cli

    result = CliRunner().invoke(relay_cli.command, args)
    assert result.exit_code == 2, result.output
    assert reason in result.stderr
    assert "Traceback" not in result.output


def test_terminating_the_context_does_not_hang_with_a_relay_open() -> None:
    """A context terminated under a running relay stops it; term() returns."""
    import threading

    import zmq

    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    hop = Relay("tcp://127.0.0.1:1", "tcp://127.0.0.1:*", context=ctx)
    done = threading.Event()
    threading.Thread(target=lambda: (ctx.term(), done.set()), daemon=True).start()
    assert done.wait(DEADLINE_S), "ctx.term() hung"
    hop.close()
