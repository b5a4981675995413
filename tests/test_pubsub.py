"""Publisher and Subscriber over real sockets: delivery, sessions, presence, settings."""

from __future__ import annotations

import pytest
import zmq

from radio import (
    ClosedError,
    EndpointError,
    InvalidNameError,
    InvalidSettingError,
    MessageTooLargeError,
    Publisher,
    SessionClosedError,
    SessionError,
    Subscriber,
    UnknownSessionError,
)
from tests.helpers import drain, free_tcp_endpoint, recv_all, wait_until


def test_messages_arrive_in_order_on_every_transport(endpoint: str) -> None:
    """A tuned-in subscriber hears every message of its session, in order, with its fields."""
    with (
        Publisher(endpoint, channel="orders") as pub,
        Subscriber(pub.endpoint, channel="orders") as sub,
    ):
        session = pub.open_session()
        sub.tune_in(session)
        assert pub.wait_for_listener(session, timeout=10)
        seqs = [pub.send(session, b"m%d" % i, ttl=30.0) for i in range(100)]
        assert seqs == list(range(1, 101))
        got = recv_all(sub, 100)
        assert [m.payload for m in got] == [b"m%d" % i for i in range(100)]
        assert [m.seq for m in got] == seqs
        assert {(m.channel, m.session, m.ttl) for m in got} == {("orders", session, 30.0)}
        assert sub.stats.received == 100
        assert sub.stats.gaps == 0


def test_subscriber_can_bind_and_publisher_connect(endpoint: str) -> None:
    """Either side may bind."""
    with (
        Subscriber(endpoint, channel="c", bind=True) as sub,
        Publisher(sub.endpoint, channel="c", bind=False) as pub,
    ):
        sub.tune_in("s1")
        pub.open_session("s1")
        assert pub.wait_for_listener("s1", timeout=10)
        pub.send("s1", b"hello")
        assert recv_all(sub, 1)[0].payload == b"hello"


def test_listeners_count_subscribers_per_session() -> None:
    """listeners(session) counts the subscribers tuned in to that session now."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        a, b = pub.open_session("a"), pub.open_session("b")
        subs = [Subscriber(pub.endpoint, channel="c") for _ in range(3)]
        try:
            subs[0].tune_in(a)
            subs[1].tune_in(a)
            subs[2].tune_in(b)
            wait_until(lambda: pub.listeners(a) == 2 and pub.listeners(b) == 1)
            assert pub.channel_listeners() == 3
            subs[1].tune_out(a)
            wait_until(lambda: pub.listeners(a) == 1, what="tune-out seen")
            subs[0].close()
            wait_until(lambda: pub.listeners(a) == 0, what="close seen")
            assert pub.listeners(b) == 1
        finally:
            for sub in subs:
                sub.close()


def test_wait_for_listener_times_out_with_false() -> None:
    """Nobody tuned in: wait_for_listener returns False at its timeout."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        session = pub.open_session()
        assert pub.wait_for_listener(session, timeout=0.1) is False
        assert pub.listeners(session) == 0


def test_closed_session_refuses_sends_and_reopening() -> None:
    """close_session announces the end; later sends raise, and the ID cannot come back."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        session = pub.open_session()
        sub.tune_in(session)
        assert pub.wait_for_listener(session, timeout=10)
        pub.send(session, b"one")
        pub.close_session(session)
        with pytest.raises(SessionClosedError, match=session):
            pub.send(session, b"two")
        with pytest.raises(SessionClosedError):
            pub.open_session(session)
        assert [m.payload for m in drain(sub)] == [b"one"]
        assert sub.sessions == frozenset()  # the END tuned it out
        assert pub.sessions == ()


def test_session_errors_name_the_session() -> None:
    """Unknown and duplicate sessions raise precise errors."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        with pytest.raises(UnknownSessionError, match="'nope'"):
            pub.send("nope", b"x")
        pub.open_session("s1")
        with pytest.raises(SessionError, match="already open"):
            pub.open_session("s1")
        with pytest.raises(InvalidNameError, match="'bad name'"):
            pub.open_session("bad name")


def test_live_is_the_newest_open_session() -> None:
    """The live session is the newest open one; closing it makes the previous one live."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        assert pub.live is None
        pub.open_session("s1")
        pub.open_session("s2")
        assert pub.live == "s2"
        pub.close_session("s2")
        assert pub.live == "s1"
        assert pub.sessions == ("s1",)


def test_use_after_close_raises() -> None:
    """A closed publisher or subscriber says so instead of touching a dead socket."""
    pub = Publisher("tcp://127.0.0.1:*")
    session = pub.open_session()
    sub = Subscriber(pub.endpoint)
    pub.close()
    sub.close()
    pub.close()  # idempotent
    with pytest.raises(ClosedError):
        pub.send(session, b"x")
    with pytest.raises(ClosedError):
        sub.recv(timeout=0)
    assert "closed" in repr(pub)
    assert list(sub) == []


def test_repr_shows_channel_mode_and_endpoint() -> None:
    """The repr names the endpoint, as every socket-owning class must."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="news") as pub,
        Subscriber(pub.endpoint, channel="news") as sub,
    ):
        assert repr(pub) == f"<Publisher channel='news' bind {pub.endpoint}>"
        assert repr(sub) == f"<Subscriber channel='news' connect {pub.endpoint}>"


def test_payload_must_be_bytes() -> None:
    """Text must be encoded by the caller; bytes-like objects are accepted."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        session = pub.open_session()
        with pytest.raises(TypeError, match="payload must be bytes, not str"):
            pub.send(session, "text")  # type: ignore[arg-type]
        assert pub.send(session, bytearray(b"ok")) == 1
        assert pub.send(session, memoryview(b"ok")) == 2


def test_oversized_messages_are_refused_by_the_publisher() -> None:
    """A message over max_message_size raises instead of making subscribers drop the link."""
    with Publisher("tcp://127.0.0.1:*", max_message_size=1000) as pub:
        session = pub.open_session()
        pub.send(session, b"x" * 900)
        with pytest.raises(MessageTooLargeError, match="1000-byte"):
            pub.send(session, b"x" * 1000)


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"channel": "no spaces"}, "'no spaces'"),
        ({"channel": ""}, "''"),
        ({"hwm": -1}, "hwm -1"),
        ({"hwm": 1.5}, "hwm 1.5"),
        ({"hwm": True}, "hwm True"),
        ({"hwm": 2**31}, "hwm 2147483648"),
        ({"heartbeat": 1e7}, "heartbeat interval 10000000.0"),
        ({"heartbeat": 0}, "heartbeat interval 0"),
        ({"heartbeat_timeout": -1.0}, "heartbeat timeout -1.0"),
        ({"max_message_size": -5}, "max message size -5"),
    ],
)
@pytest.mark.parametrize("cls", [Publisher, Subscriber])
def test_bad_settings_are_refused_naming_the_value(
    cls: type[Publisher] | type[Subscriber], kwargs: dict[str, object], bad: str
) -> None:
    """Every bad setting raises at construction with the value in the message."""
    with pytest.raises((InvalidNameError, InvalidSettingError)) as info:
        cls("tcp://127.0.0.1:*", **kwargs)  # type: ignore[arg-type]
    assert bad in str(info.value)


@pytest.mark.parametrize("endpoint", ["127.0.0.1:5556", "tcp//x", "http://x", "", "tcp://"])
def test_bad_endpoints_are_refused_naming_them(endpoint: str) -> None:
    """An endpoint that is not TRANSPORT://ADDRESS is refused before any socket is made."""
    with pytest.raises(InvalidSettingError, match="invalid endpoint"):
        Publisher(endpoint)


def test_bad_ttl_and_timeout_are_refused() -> None:
    """TTL must be > 0 seconds, a timeout >= 0."""
    with Publisher("tcp://127.0.0.1:*") as pub, Subscriber(pub.endpoint) as sub:
        session = pub.open_session()
        for ttl in (0, -1.0, float("nan"), "2"):
            with pytest.raises(InvalidSettingError, match="ttl"):
                pub.send(session, b"x", ttl=ttl)  # type: ignore[arg-type]
        with pytest.raises(InvalidSettingError, match="timeout -1"):
            sub.recv(timeout=-1)


def test_port_in_use_is_an_endpoint_error_naming_it() -> None:
    """Binding a taken port raises EndpointError with the endpoint in the message."""
    endpoint = free_tcp_endpoint()
    with Publisher(endpoint):
        with pytest.raises(EndpointError, match="cannot bind") as info:
            Publisher(endpoint)
        assert endpoint in str(info.value)
        assert info.value.errno == zmq.EADDRINUSE


def test_retuning_while_another_thread_receives_is_safe() -> None:
    """tune_in/tune_out from one thread while another blocks in recv: no error, no stale."""
    import threading

    errors: list[BaseException] = []
    heard: list[str] = []
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):
        pub.open_session("s1")
        pub.open_session("s2")
        stop = threading.Event()

        def receive() -> None:
            try:
                while not stop.is_set():
                    message = sub.recv(timeout=0.01)
                    if message is not None:
                        heard.append(message.session)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        thread = threading.Thread(target=receive)
        thread.start()
        for round_ in range(200):
            sub.tune_in("s1" if round_ % 2 else "s2")
            for _ in range(20):
                pub.send("s1", b"1")
                pub.send("s2", b"2")
            sub.tune_out("s1" if round_ % 2 else "s2")
        stop.set()
        thread.join()
    assert errors == []
    assert set(heard) <= {"s1", "s2"}


def test_last_seq_counts_what_was_sent_on_a_session() -> None:
    """last_seq is 0 before the first message and follows each send."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        pub.open_session("s1")
        assert pub.last_seq("s1") == 0
        for _ in range(3):
            pub.send("s1", b"x")
        assert pub.last_seq("s1") == 3
        pub.close_session("s1")
        with pytest.raises(SessionClosedError):
            pub.last_seq("s1")


def test_send_many_delivers_in_order_and_returns_the_last_seq(endpoint: str) -> None:
    """send_many numbers its payloads after what send numbered, and they arrive in order."""
    with (
        Publisher(endpoint, channel="bulk") as pub,
        Subscriber(pub.endpoint, channel="bulk") as sub,
    ):
        session = pub.open_session()
        sub.tune_in(session)
        assert pub.wait_for_listener(session, timeout=10)
        assert pub.send(session, b"one") == 1
        assert pub.send_many(session, [b"m%d" % i for i in range(300)], ttl=30.0) == 301
        assert pub.send_many(session, []) == 301
        assert pub.send_many(session, (b for b in [bytearray(b"x"), memoryview(b"y")])) == 303
        large = [b"L" * 70_000, b"tail", b"M" * 100_000]  # two-part messages among them
        assert pub.send_many(session, large) == 306
        got = recv_all(sub, 306)
        assert [m.seq for m in got] == list(range(1, 307))
        assert [m.payload for m in got[303:]] == large
        assert [m.payload for m in got[1:301]] == [b"m%d" % i for i in range(300)]
        assert {m.ttl for m in got[1:301]} == {30.0}
        assert len({m.sent_at for m in got[1:301]}) == 1  # one send time for the call
        assert sub.stats.gaps == 0


def test_send_many_sends_nothing_when_one_payload_is_bad() -> None:
    """A payload that is not bytes, or too large, refuses the whole call: nothing numbered."""
    with Publisher("tcp://127.0.0.1:*", max_message_size=1000) as pub:
        session = pub.open_session("s1")
        with pytest.raises(TypeError, match="payload must be bytes, not str"):
            pub.send_many(session, [b"ok", "text"])  # type: ignore[list-item]
        with pytest.raises(MessageTooLargeError, match="1000-byte"):
            pub.send_many(session, [b"ok", b"x" * 1000])
        with pytest.raises(InvalidSettingError, match="ttl -1"):
            pub.send_many(session, [b"ok"], ttl=-1)
        assert pub.last_seq(session) == 0
        pub.close_session(session)
        with pytest.raises(SessionClosedError):
            pub.send_many(session, [b"late"])


@pytest.mark.parametrize("interval", [0.0001, 3601.0, 1e9])
def test_a_beacon_interval_subscribers_would_refuse_is_refused(interval: float) -> None:
    """A publisher only announces intervals a subscriber accepts (0.001 s to an hour)."""
    with pytest.raises(InvalidSettingError, match="beacon interval"):
        Publisher("tcp://127.0.0.1:*", beacon_interval=interval)
