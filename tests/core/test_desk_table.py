"""The session desk without sockets: its request and reply format, and its client table."""

from __future__ import annotations

import contextlib
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


def _listen(core: Transmitter, session: str, listener: bytes, owner: bytes = b"") -> None:
    """A presence marker for *session*, as the XPUB reports it (from *owner*)."""
    core.hear(b"\x01" + marker_topic(session_topic(core.channel, session), listener), owner=owner)


def _leave(core: Transmitter, session: str, listener: bytes, owner: bytes = b"") -> None:
    core.hear(b"\x00" + marker_topic(session_topic(core.channel, session), listener), owner=owner)


class TestQuota:
    """Issue 18, finding 1: one peer that listens to all of its clients locked the desk."""

    def test_one_peer_that_listens_to_every_client_cannot_lock_others_out(self) -> None:
        """A key joins 10,000 names into a desk of 100, listening to each session as it
        gets it (within its presence cap): it keeps its quota, and five honest joins of
        other keys all get in."""
        core = Transmitter("ch", max_desk_clients=100, max_desk_clients_per_key=30)
        refused = 0
        for i in range(10_000):
            try:
                session, _ = core.join(f"rogue-{i}", b"rogue")
            except DeskError:
                refused += 1
                continue
            _listen(core, session, b"r%d" % i, b"rogue")
        assert core.desk.held(b"rogue") == 30
        assert refused == 10_000 - 30
        for i in range(5):
            session, _ = core.join(f"honest-{i}", b"honest-%d" % i)
            assert core.desk_session(f"honest-{i}") == session

    def test_the_quota_is_at_most_half_the_desk(self) -> None:
        """Whatever quota is asked for, one peer never holds more than half the desk."""
        core = Transmitter("ch", max_desk_clients=10, max_desk_clients_per_key=1000)
        for i in range(10):
            with contextlib.suppress(DeskError):
                session, _ = core.join(f"rogue-{i}", b"rogue")
                _listen(core, session, b"r%d" % i, b"rogue")
        assert core.desk.held(b"rogue") == 5
        core.join("honest", b"honest")

    def test_a_peer_at_its_quota_evicts_its_own_client_unlistened_the_longest(self) -> None:
        """Beyond its quota a peer evicts its own unheard client, never another peer's."""
        core = Transmitter("ch", max_desk_clients=10, max_desk_clients_per_key=3)
        other, _ = core.join("other", b"other")  # unheard, and the oldest of all
        a, _ = core.join("a", b"peer")
        b, _ = core.join("b", b"peer")
        core.join("c", b"peer")
        _listen(core, a, b"la", b"peer")
        _, frames = core.join("d", b"peer")
        assert core.desk_session("b") is None  # the peer's own oldest unheard client
        assert (Kind.END, b) in {(f.kind, f.session) for f in map(decode, frames)}
        assert core.desk_session("a") == a
        assert core.desk_session("other") == other
        assert core.desk.held(b"peer") == 3
        assert core.desk.evicted == 1

    def test_a_peer_at_its_quota_of_heard_clients_is_refused_but_may_rejoin(self) -> None:
        """Every one of its clients heard: a newcomer of that peer is refused, one of
        its known clients rejoins, and another peer still gets in."""
        core = Transmitter("ch", max_desk_clients=10, max_desk_clients_per_key=2)
        for name in ("a", "b"):
            session, _ = core.join(name, b"peer")
            _listen(core, session, name.encode(), b"peer")
        with pytest.raises(DeskError, match="quota of 2"):
            core.join("c", b"peer")
        core.join("a", b"peer")
        core.join("c", b"other")
        assert core.desk.held(b"peer") == 2

    def test_a_client_taken_over_by_another_peer_counts_for_that_peer(self) -> None:
        """A name joined again by another peer moves to that peer's quota."""
        core = Transmitter("ch", max_desk_clients=10, max_desk_clients_per_key=2)
        core.join("a", b"first")
        core.join("a", b"second")
        assert (core.desk.held(b"first"), core.desk.held(b"second")) == (0, 1)
        assert len(core.desk) == 1

    def test_callers_that_name_no_peer_have_no_quota(self) -> None:
        """join() without an owner (a caller of the core alone) is bounded by the desk."""
        core = Transmitter("ch", max_desk_clients=10, max_desk_clients_per_key=2)
        for i in range(10):
            core.join(f"c{i}")
        assert len(core.desk) == 10


class TestEviction:
    """Issue 18, finding 2: eviction looked only at the 64 least recently joined clients."""

    def test_any_unheard_client_is_evicted_however_many_heard_ones_come_first(self) -> None:
        """64 heard clients, then 36 unheard ones: a newcomer evicts the oldest unheard."""
        core = Transmitter("ch", max_desk_clients=100)
        sessions = []
        for i in range(100):
            session, _ = core.join(f"c{i}")
            sessions.append(session)
            if i < 64:
                _listen(core, session, b"l%d" % i)
        core.join("newcomer")
        assert core.desk_session("c64") is None
        assert all(core.desk_session(f"c{i}") == sessions[i] for i in range(64))
        assert all(core.desk_session(f"c{i}") is not None for i in range(65, 100))

    def test_a_client_whose_last_listener_leaves_is_the_newest_unheard(self) -> None:
        """While one listener remains a client is kept; once its last listener leaves it
        is evictable, after the clients that have gone unheard for longer."""
        core = Transmitter("ch", max_desk_clients=3)
        a, _ = core.join("a")
        _listen(core, a, b"one")
        _listen(core, a, b"two")
        core.join("b")
        core.join("c")
        _leave(core, a, b"one")  # still heard by "two"
        core.join("d")
        assert (core.desk_session("a"), core.desk_session("b")) == (a, None)
        _leave(core, a, b"two")  # unheard from now: after c and d
        core.join("e")
        assert core.desk_session("c") is None
        core.join("f")
        assert core.desk_session("d") is None
        assert core.desk_session("a") == a
        core.join("g")
        assert core.desk_session("a") is None
        assert core.desk.unlistened() == 3

    def test_eviction_cost_does_not_grow_with_heard_clients(self) -> None:
        """A desk of 20,000 heard clients and one unheard at the back: 20,000 joins
        each evict the one unheard client without looking at the heard ones."""
        core = Transmitter("ch", max_desk_clients=20_001)
        for i in range(20_000):
            session, _ = core.join(f"heard-{i}")
            _listen(core, session, b"l%d" % i)
        core.join("spare")
        start = time.perf_counter()
        for i in range(20_000):
            core.join(f"c{i}")
        elapsed = time.perf_counter() - start
        assert core.desk.evicted == 20_000
        assert core.desk.unlistened() == 1
        assert elapsed < 10.0  # generous: about 0.5 s here
