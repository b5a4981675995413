"""The session desk without sockets: its request and reply format, and its client table."""

from __future__ import annotations

import json
import time

import pytest

from radio import DeskError
from radio.core.desk import (
    PROTOCOL,
    DeskAnswer,
    encode_refusal,
    encode_reply,
    encode_request,
    parse_reply,
    parse_request,
)
from radio.core.names import marker_topic, session_topic
from radio.core.transmitter import Transmitter
from radio.core.wire import Kind, decode


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
        first, _ = core.join("a")
        assert core.desk_session("a") == first
        assert core.live == "public"  # a desk session is never the channel's live one
        second, frames = core.join("a")
        assert second != first
        assert (Kind.END, first) in {(f.kind, f.session) for f in map(decode, frames)}
        assert set(core.sessions) == {"public", second}

    def test_a_full_table_evicts_the_least_recently_joined_unheard_client(self) -> None:
        """Beyond max_clients a newcomer evicts the oldest client nobody listens to."""
        core = Transmitter("ch", max_desk_clients=2)
        a, _ = core.join("a")
        core.join("b")
        core.hear(b"\x01" + marker_topic(session_topic("ch", a), b"listener"))  # a is heard
        _, frames = core.join("c")
        assert core.desk_session("b") is None  # b had no listener: evicted
        assert core.desk_session("a") == a
        assert next(f.kind for f in map(decode, frames)) is Kind.END
        assert core.desk.evicted == 1
        assert len(core.desk) == 2

    def test_a_full_table_of_heard_clients_refuses_newcomers_but_not_known_ones(self) -> None:
        """When every client is listened to, a newcomer is refused; a known one rejoins."""
        core = Transmitter("ch", max_desk_clients=2)
        for name in ("a", "b"):
            session, _ = core.join(name)
            core.hear(b"\x01" + marker_topic(session_topic("ch", session), name.encode()))
        with pytest.raises(DeskError, match="full"):
            core.join("c")
        core.join("a")
        assert len(core.desk) == 2

    def test_joins_cost_the_same_however_many_sessions_are_open(self) -> None:
        """Joins are O(1): 20,000 of them through a full table of 1,000 stay fast."""
        core = Transmitter("ch", max_desk_clients=1000)
        start = time.perf_counter()
        for i in range(20_000):
            core.join(f"c{i}")
        assert len(core.sessions) == 1000
        assert len(core.desk) == 1000
        assert time.perf_counter() - start < 10.0  # generous: about 0.5 s here

    def test_closing_a_desk_session_forgets_its_client(self) -> None:
        """desk_session answers None once the client's session was closed, by anyone,
        and the core forgets that client: the table never holds a closed session."""
        core = Transmitter("ch")
        session, _ = core.join("a")
        core.close(session)
        assert core.desk_session("a") is None
        assert len(core.desk) == 0

    def test_the_core_answers_a_raw_request(self) -> None:
        """answer_desk turns a JOIN into a reply naming the session, and junk into a no."""
        core = Transmitter("ch")
        reply, frames = core.answer_desk(encode_request("a"), "tcp://host:1")
        answer = parse_reply(reply, "desk")
        assert answer == ("tcp://host:1", "ch", core.desk_session("a"))
        assert frames == []  # a private session: no beacon names it
        reply, frames = core.answer_desk(b"junk", "tcp://host:1")
        with pytest.raises(DeskError, match="not JSON"):
            parse_reply(reply, "desk")
        assert frames == []
