"""The session desk: a restarting client gets a fresh session and never hears an old one."""

from __future__ import annotations

import json

import pytest
import zmq

from radio import DeskError, InvalidSettingError, Publisher, Subscriber
from radio.core.desk import PROTOCOL, encode_request, parse_request
from radio.desk import ask
from tests.helpers import DEADLINE_S, drain, free_tcp_endpoint, recv_all, wait_until


def test_a_restarting_client_never_hears_an_earlier_session() -> None:
    """Twenty restarts: each join closes the previous session and opens a fresh one."""
    desk = free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c", desk=desk) as pub:
        seen: set[str] = set()
        for restart in range(20):
            with Subscriber.join(desk, "client-7") as sub:
                session = next(iter(sub.sessions))
                assert session not in seen
                seen.add(session)
                assert pub.desk_session("client-7") == session
                assert pub.wait_for_listener(session, timeout=DEADLINE_S)
                for i in range(10):
                    pub.send(session, b"%d %d" % (restart, i))
                got = recv_all(sub, 10)
                assert {m.session for m in got} == {session}
            # the client is gone; the server keeps sending to its session until it rejoins
            for _ in range(50):
                pub.send(session, b"stale")
        assert len(pub.sessions) == 1  # only the last one is still open


def test_joining_again_ends_the_old_subscription() -> None:
    """A second join of the same client closes the first session: its subscriber hears END."""
    desk = free_tcp_endpoint()
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", desk=desk) as pub,
        Subscriber.join(desk, "twin") as first,
    ):
        old = next(iter(first.sessions))
        assert pub.wait_for_listener(old, timeout=DEADLINE_S)
        with Subscriber.join(desk, "twin") as second:
            new = next(iter(second.sessions))
            assert new != old
            wait_until(
                lambda: first.recv(0.05) is None and not first.sessions,
                what="the first subscriber to hear its session end",
            )
            assert pub.wait_for_listener(new, timeout=DEADLINE_S)
            pub.send(new, b"only for the new one")
            assert recv_all(second, 1)[0].payload == b"only for the new one"
            assert drain(first) == []


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"protocol": "other/9", "op": "join", "client": "a"}).encode(), "protocol"),
        (json.dumps({"protocol": PROTOCOL, "op": "drop", "client": "a"}).encode(), "unknown op"),
        (json.dumps({"protocol": PROTOCOL, "op": "join", "client": "a b"}).encode(), "'a b'"),
        (json.dumps({"protocol": PROTOCOL, "op": "join"}).encode(), "client name"),
    ],
)
def test_bad_requests_are_named(request_: bytes, reason: str) -> None:
    """parse_request says what is wrong with a request."""
    with pytest.raises(DeskError, match=reason):
        parse_request(request_)


def test_hostile_requests_get_errors_and_never_disturb_the_desk() -> None:
    """Garbage, odd envelopes and oversized frames: error replies or dropped peers;
    a good client still gets its session."""
    desk = free_tcp_endpoint()
    ctx = zmq.Context.instance()
    with Publisher("tcp://127.0.0.1:*", channel="c", desk=desk):
        rogue = ctx.socket(zmq.DEALER)
        rogue.setsockopt(zmq.LINGER, 0)
        rogue.connect(desk)
        for junk in (b"", b"{", b"\x00" * 100, json.dumps({"op": "join"}).encode()):
            rogue.send_multipart([b"", junk])
            assert rogue.poll(DEADLINE_S * 1000)
            answer = json.loads(rogue.recv_multipart()[-1])
            assert answer["ok"] is False
            assert answer["error"]
        rogue.send_multipart([b"a", b"b", b"c"])  # an odd envelope: answered, not fatal
        rogue.send(b"x" * 100_000)  # over MAXMSGSIZE: libzmq drops the rogue's connection
        rogue.close(linger=0)
        fields = ask(desk, "good-client")
        assert fields.channel == "c"
        assert fields.session


def test_no_desk_answers_in_time() -> None:
    """A desk that is not there: DeskError after the timeout, naming the endpoint."""
    desk = free_tcp_endpoint()
    with pytest.raises(DeskError, match="no answer from the desk"):
        Subscriber.join(desk, "lonely", timeout=0.2)


def test_desk_sessions_never_move_followers() -> None:
    """A client's own session is not the channel's live one: followers stay put."""
    desk = free_tcp_endpoint()
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", desk=desk) as pub,
        Subscriber(pub.endpoint, channel="c") as follower,
    ):
        follower.follow()
        pub.open_session("broadcast")
        assert pub.wait_for_listener("broadcast", timeout=DEADLINE_S)
        for i in range(5):
            ask(desk, f"client-{i}")
        assert pub.live == "broadcast"
        pub.send("broadcast", b"still here")
        assert recv_all(follower, 1)[0].session == "broadcast"
        assert follower.live == "broadcast"


def test_a_full_desk_evicts_the_unheard_and_refuses_only_when_all_are_heard() -> None:
    """The number of clients is bounded: a newcomer evicts the client nobody has
    listened to for the longest; when every client is listened to, it is refused."""
    desk = free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c", desk=desk, max_desk_clients=2) as pub:
        with Subscriber.join(desk, "a") as sub_a, Subscriber.join(desk, "b") as sub_b:
            for sub in (sub_a, sub_b):
                assert pub.wait_for_listener(next(iter(sub.sessions)), timeout=DEADLINE_S)
            with pytest.raises(DeskError, match="desk is full"):
                ask(desk, "c")
            first = pub.desk_session("a")
            assert ask(desk, "a").session != first  # a known client always comes back
            b_session = next(iter(sub_b.sessions))
        wait_until(lambda: pub.listeners(b_session) == 0, what="b's listener to leave")
        # nobody listens any more: a's new session (unheard since a joined again) has
        # gone unheard the longest, b's only since its listener left
        ask(desk, "c")
        assert pub.desk_session("a") is None
        assert pub.desk_session("b") is not None
        assert len(pub.sessions) == 2


@pytest.mark.slow
def test_a_flood_of_made_up_clients_never_locks_honest_ones_out() -> None:
    """10,000 joins with made-up names fill and churn the desk, yet an honest client
    that joins is admitted and heard, and forgotten names leave no memory behind."""
    desk = free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c", desk=desk, max_desk_clients=100) as pub:
        flood = zmq.Context.instance().socket(zmq.DEALER)
        flood.connect(desk)
        try:
            for i in range(10_000):
                flood.send_multipart([b"", encode_request(f"rogue-{i}")])
            with Subscriber.join(desk, "honest") as sub:
                session = next(iter(sub.sessions))
                assert pub.wait_for_listener(session, timeout=DEADLINE_S)
                pub.send(session, b"for you")
                assert recv_all(sub, 1)[0].payload == b"for you"
            wait_until(lambda: pub.desk_session("rogue-9999"), what="the flood to be served")
        finally:
            flood.close(linger=0)
        assert len(pub.sessions) <= 100


def test_the_desk_works_with_curve(tmp_path: pytest.TempPathFactory) -> None:
    """With CURVE, the desk uses the publisher's keys; Subscriber.join passes its own."""
    from pathlib import Path

    from radio import CurveClient, CurveServer, create_keys

    base = Path(str(tmp_path))
    server_pub, server_secret = create_keys(base / "s", "server")
    client_pub, client_secret = create_keys(base / "c", "client")
    allowed = base / "allowed"
    allowed.mkdir()
    (allowed / "client.key").write_bytes(client_pub.read_bytes())
    desk = free_tcp_endpoint()
    security = CurveServer.from_files(server_secret, str(allowed))
    with Publisher("tcp://127.0.0.1:*", channel="c", desk=desk, security=security) as pub:
        keys = CurveClient.from_files(client_secret, server_pub)
        with Subscriber.join(desk, "secure-client", security=keys) as sub:
            session = next(iter(sub.sessions))
            assert pub.wait_for_listener(session, timeout=DEADLINE_S)
            pub.send(session, b"secret")
            assert recv_all(sub, 1)[0].payload == b"secret"


def test_send_all_reaches_every_open_session() -> None:
    """send_all numbers the message in each open session's own sequence, desk sessions too."""
    desk = free_tcp_endpoint()
    with Publisher("tcp://127.0.0.1:*", channel="c", desk=desk) as pub:
        own = pub.open_session()
        with Subscriber.join(desk, "everyone") as sub:
            theirs = next(iter(sub.sessions))
            assert pub.wait_for_listener(theirs, timeout=DEADLINE_S)
            pub.send(own, b"first")
            assert pub.send_all(b"hello") == 2
            assert pub.last_seq(own) == 2
            assert pub.last_seq(theirs) == 1
            got = recv_all(sub, 1)
            assert [(m.session, m.seq, m.payload) for m in got] == [(theirs, 1, b"hello")]


@pytest.mark.parametrize("endpoint", ["tcp://*:*", "tcp://0.0.0.0:*"])
def test_a_wildcard_publisher_with_a_desk_must_say_where_to_connect(endpoint: str) -> None:
    """Telling desk clients to connect to 0.0.0.0 would leave them deaf: refused at start,
    and accepted once an address they can reach is advertised."""
    with pytest.raises(InvalidSettingError, match="advertise"):
        Publisher(endpoint, channel="c", desk=free_tcp_endpoint())
    with Publisher(
        endpoint, channel="c", desk=free_tcp_endpoint(), advertise="tcp://127.0.0.1:1"
    ) as pub:
        assert pub.advertise == "tcp://127.0.0.1:1"


def test_radio_pub_refuses_a_wildcard_desk_with_exit_2() -> None:
    """The CLI says why and exits 2 (a usage error)."""
    from click.testing import CliRunner
    from radio.cli import pub as pub_cli

    result = CliRunner().invoke(
        pub_cli.command, ["-e", "tcp://*:*", "--desk", free_tcp_endpoint(), "hello"]
    )
    assert result.exit_code == 2
    assert "advertise" in result.stderr
