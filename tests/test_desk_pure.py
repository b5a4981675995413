"""The session desk without sockets: its request and reply format, and its client table."""

from __future__ import annotations

import json
import time

import pytest

from radio import DeskError
from radio.desk import (
    PROTOCOL,
    DeskAnswer,
    encode_refusal,
    encode_reply,
    encode_request,
    parse_reply,
    parse_request,
)
from radio.desk_server import DeskClients
from radio.names import marker_topic, session_topic
from radio.transmitter import Transmitter
from radio.wire import Kind, decode


class TestFormat:
    def test_a_request_round_trips(self) -> None:
        """encode_request writes what parse_request reads back."""
        assert parse_request(encode_request("client-1")) == "client-1"
        assert json.loads(encode_request("c")) == {
            "protocol": PROTOCOL,
            "op": "join",
            "client": "c",
        }

    def test_a_reply_round_trips(self) -> None:
        """encode_reply writes what parse_reply reads back."""
        answer = DeskAnswer("tcp://127.0.0.1:5556", "radio", "s-1")
        assert parse_reply(encode_reply(answer), "desk") == answer

    @pytest.mark.parametrize(
        ("reply", "reason"),
        [
            (encode_refusal("the desk is full (3 clients)"), "refused: the desk is full"),
            (b"not json", "not JSON"),
            (b"[1]", "refused: no reason given"),
            (json.dumps({"ok": True, "endpoint": "e", "channel": "c"}).encode(), "incomplete"),
            (
                json.dumps({"ok": True, "endpoint": 1, "channel": "c", "session": "s"}).encode(),
                "incomplete",
            ),
        ],
    )
    def test_bad_replies_are_named(self, reply: bytes, reason: str) -> None:
        """A refusal or junk from the desk is a DeskError saying which desk and why."""
        with pytest.raises(DeskError, match=reason) as raised:
            parse_reply(reply, "tcp://desk:1")
        assert "tcp://desk:1" in str(raised.value)


class TestClients:
    def test_a_join_closes_the_previous_session_and_opens_a_private_one(self) -> None:
        """Each join gives a fresh session; the old one's subscribers hear END."""
        core = Transmitter("ch")
        core.open("public")
        clients = DeskClients()
        frames: list[bytes] = []
        first = clients.join("a", core, frames)
        assert clients.session_of("a", core) == first
        assert core.live == "public"  # a desk session is never the channel's live one
        frames.clear()
        second = clients.join("a", core, frames)
        assert second != first
        assert (Kind.END, first) in {(f.kind, f.session) for f in map(decode, frames)}
        assert set(core.sessions) == {"public", second}

    def test_a_full_table_evicts_the_least_recently_joined_unheard_client(self) -> None:
        """Beyond max_clients a newcomer evicts the oldest client nobody listens to."""
        core = Transmitter("ch")
        clients = DeskClients(max_clients=2)
        a = clients.join("a", core, [])
        clients.join("b", core, [])
        core.hear(b"\x01" + marker_topic(session_topic("ch", a), b"listener"))  # a is heard
        frames: list[bytes] = []
        clients.join("c", core, frames)
        assert clients.session_of("b", core) is None  # b had no listener: evicted
        assert clients.session_of("a", core) == a
        assert next(f.kind for f in map(decode, frames)) is Kind.END
        assert clients.evicted == 1
        assert len(clients) == 2

    def test_a_full_table_of_heard_clients_refuses_newcomers_but_not_known_ones(self) -> None:
        """When every client is listened to, a newcomer is refused; a known one rejoins."""
        core = Transmitter("ch")
        clients = DeskClients(max_clients=2)
        for name in ("a", "b"):
            session = clients.join(name, core, [])
            core.hear(b"\x01" + marker_topic(session_topic("ch", session), name.encode()))
        with pytest.raises(DeskError, match="full"):
            clients.join("c", core, [])
        clients.join("a", core, [])
        assert len(clients) == 2

    def test_joins_cost_the_same_however_many_sessions_are_open(self) -> None:
        """Joins are O(1): 20,000 of them through a full table of 1,000 stay fast."""
        core = Transmitter("ch")
        clients = DeskClients(max_clients=1000)
        start = time.perf_counter()
        for i in range(20_000):
            clients.join(f"c{i}", core, [])
        assert len(core.sessions) == 1000
        assert len(clients) == 1000
        assert time.perf_counter() - start < 10.0  # generous: about 0.5 s here

    def test_a_closed_session_is_not_reported(self) -> None:
        """session_of answers None once the client's session was closed, and a client
        whose session was closed is forgotten."""
        core = Transmitter("ch")
        clients = DeskClients()
        session = clients.join("a", core, [])
        core.close(session)
        assert clients.session_of("a", core) is None
        clients.forget(session)
        assert len(clients) == 0
