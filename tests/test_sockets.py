"""One socket set-up: SocketSettings, configure(), the owner base and the public seams."""

from __future__ import annotations

import dataclasses
import select
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from radio import (
    ClosedError,
    EndpointError,
    InvalidSettingError,
    Observer,
    Publisher,
    RadioError,
    Relay,
    Subscriber,
)
from radio.owner import SocketOwner
from radio.settings import Heartbeat, SocketSettings, next_wait, to_ms
from radio.sockets import MAX_SUBSCRIPTION_BYTES, SUBSCRIPTION_HWM, configure
from tests.helpers import DEADLINE_S, recv_all, tuned, wait_until


@pytest.fixture
def sock() -> Iterator[zmq.Socket[bytes]]:
    """A fresh SUB socket on its own context (options are read back from it)."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    socket = ctx.socket(zmq.SUB)
    yield socket
    socket.close(linger=0)
    ctx.term()


# -- to_ms ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "ms"),
    [(0.0, 0), (1.5, 1500), (2, 2000), (0.0004, 1), (0.0016, 2), (2_000_000.0, 2_000_000_000)],
)
def test_to_ms_rounds_and_never_turns_a_positive_time_into_zero(seconds: float, ms: int) -> None:
    """Seconds become whole milliseconds; a positive time is at least 1 ms (0 means off)."""
    assert to_ms(seconds) == ms


# -- SocketSettings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("hwm", -1, "hwm"),
        ("hwm", True, "hwm"),
        ("hwm", 2**31, "hwm"),
        ("heartbeat", 0.5, "heartbeat"),
        ("max_message_size", -5, "max message size"),
        ("max_message_size", 1.5, "max message size"),
        ("linger", -1.0, "linger"),
        ("linger", float("nan"), "linger"),
        ("linger", 3e6, "linger"),
        ("connect_timeout", 0, "connect timeout"),
        ("connect_timeout", "2", "connect timeout"),
        ("reconnect_interval", 0.0, "reconnect interval"),
        ("reconnect_interval", float("inf"), "reconnect interval"),
        ("reconnect_max_interval", -0.5, "reconnect max interval"),
    ],
)
def test_socket_settings_refuse_bad_values_naming_them(field: str, value: Any, named: str) -> None:
    """Each bad value is refused with an InvalidSettingError that names the setting."""
    with pytest.raises(InvalidSettingError, match=f"invalid {named} "):
        SocketSettings(**{field: value})


def test_socket_settings_defaults_and_connect_timeout() -> None:
    """The connect timeout follows the heartbeat timeout unless it is given."""
    settings = SocketSettings()
    assert settings.connect_timeout_s == settings.heartbeat.timeout == 2.0
    assert settings.reconnect_interval == 0.1
    assert settings.reconnect_max_interval == 1.0
    assert SocketSettings(heartbeat=Heartbeat(timeout=3.0)).connect_timeout_s == 3.0
    assert SocketSettings(connect_timeout=0.25).connect_timeout_s == 0.25
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.hwm = 5  # type: ignore[misc]


# -- configure -----------------------------------------------------------------------------

_SETTINGS = SocketSettings(
    hwm=42,
    heartbeat=Heartbeat(0.25, 1.5),
    max_message_size=12_345,
    linger=0.3,
    connect_timeout=0.7,
    reconnect_interval=0.05,
    reconnect_max_interval=0.8,
)


@pytest.mark.parametrize(
    ("option", "value"),
    [
        (zmq.SNDHWM, 42),
        (zmq.RCVHWM, 42),
        (zmq.LINGER, 300),
        (zmq.MAXMSGSIZE, 12_345),
        (zmq.HEARTBEAT_IVL, 250),
        (zmq.HEARTBEAT_TIMEOUT, 1500),
        (zmq.HEARTBEAT_TTL, 1500),
        (zmq.TCP_MAXRT, 1500),  # unacknowledged data for the heartbeat timeout: a one-way cut
        (zmq.IMMEDIATE, 1),
        (zmq.CONNECT_TIMEOUT, 700),
        (zmq.RECONNECT_IVL, 50),
        (zmq.RECONNECT_IVL_MAX, 800),
    ],
)
def test_configure_sets_each_option_on_a_connecting_socket(
    sock: zmq.Socket[bytes], option: int, value: int
) -> None:
    """Read back from a real socket: every setting lands in its option, in milliseconds."""
    configure(sock, _SETTINGS, connecting=True)
    assert sock.getsockopt(option) == value


@pytest.mark.parametrize("option", [zmq.IMMEDIATE, zmq.CONNECT_TIMEOUT])
def test_configure_leaves_connect_options_alone_on_a_binding_socket(
    sock: zmq.Socket[bytes], option: int
) -> None:
    """IMMEDIATE and the connect timeout only concern a connecting socket."""
    before = sock.getsockopt(option)
    configure(sock, _SETTINGS, connecting=False)
    assert sock.getsockopt(option) == before == 0
    assert sock.getsockopt(zmq.LINGER) == 300


def test_configure_defaults_no_size_limit_and_no_heartbeats(sock: zmq.Socket[bytes]) -> None:
    """max_message_size None is no limit (-1); a heartbeat interval None sets none."""
    settings = SocketSettings(max_message_size=None, heartbeat=Heartbeat(None))
    configure(sock, settings, connecting=True)
    assert sock.getsockopt(zmq.MAXMSGSIZE) == -1
    assert sock.getsockopt(zmq.HEARTBEAT_IVL) == 0
    assert sock.getsockopt(zmq.CONNECT_TIMEOUT) == 2000  # the heartbeat timeout still


# -- the constructors use it ---------------------------------------------------------------


def test_a_connecting_publisher_and_subscriber_get_the_connect_options() -> None:
    """connect_timeout and reconnect_interval reach the socket; the XPUB bounds subscriptions."""
    with (
        Subscriber("tcp://127.0.0.1:*", bind=True, channel="c") as server,
        Publisher(
            server.endpoint,
            channel="c",
            bind=False,
            connect_timeout=0.5,
            reconnect_interval=0.2,
            linger=0.25,
        ) as pub,
        Subscriber(pub.endpoint, channel="c", hwm=7, heartbeat_timeout=3.0) as sub,
    ):
        xpub, sub_socket = pub._socket, sub._socket
        assert xpub.getsockopt(zmq.CONNECT_TIMEOUT) == 500
        assert xpub.getsockopt(zmq.RECONNECT_IVL) == 200
        assert xpub.getsockopt(zmq.IMMEDIATE) == 1
        assert xpub.getsockopt(zmq.LINGER) == 250
        assert xpub.getsockopt(zmq.MAXMSGSIZE) == MAX_SUBSCRIPTION_BYTES
        assert sub_socket.getsockopt(zmq.CONNECT_TIMEOUT) == 3000  # the heartbeat timeout
        assert sub_socket.getsockopt(zmq.RCVHWM) == 0  # unbounded: the subscriber applies hwm
        assert sub_socket.getsockopt(zmq.SNDHWM) == SUBSCRIPTION_HWM
        assert sub_socket.getsockopt(zmq.IMMEDIATE) == 0


def test_an_observer_never_bounds_libzmqs_receive_queue_either() -> None:
    """radio-top's Observer is a SUB as a subscriber is: a full SUB queue whose connection
    ends aborts libzmq 4.3.5, so its receive queue has no hwm (its poll drains it)."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Observer(pub.endpoint, channel="c", hwm=7) as observer,
    ):
        assert observer._socket.getsockopt(zmq.RCVHWM) == 0
        assert observer._socket.getsockopt(zmq.SNDHWM) == SUBSCRIPTION_HWM


def test_a_subscriber_with_a_tiny_hwm_still_sends_every_subscription() -> None:
    """hwm=1 bounds the messages queued, not the subscriptions: every session is heard."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c", hwm=1) as sub,
    ):
        sessions = [f"s{i}" for i in range(5)]
        for session in sessions:
            pub.open_session(session)
            sub.tune_in(session)
        for session in sessions:
            assert pub.wait_for_listener(session, timeout=DEADLINE_S)


@pytest.mark.parametrize(
    ("make", "named"),
    [
        (lambda: Publisher("tcp://127.0.0.1:*", connect_timeout=-1), "connect timeout"),
        (lambda: Subscriber("tcp://127.0.0.1:1", reconnect_interval=0), "reconnect interval"),
        (lambda: Relay("tcp://127.0.0.1:1", "tcp://127.0.0.1:*", hwm=-3), "hwm"),
        (lambda: Relay("tcp://127.0.0.1:1", "tcp://127.0.0.1:*", connect_timeout=True), "connect"),
    ],
)
def test_constructors_refuse_bad_socket_settings(make: Any, named: str) -> None:
    """The new keywords are validated like the old ones, naming the setting."""
    with pytest.raises(InvalidSettingError, match=f"invalid {named}"):
        make()


@pytest.mark.parametrize(
    "make",
    [
        lambda ctx: Publisher("tcp://127.0.0.1:*", context=ctx),
        lambda ctx: Subscriber("tcp://127.0.0.1:1", context=ctx),
        lambda ctx: Relay("tcp://127.0.0.1:1", "tcp://127.0.0.1:*", context=ctx),
    ],
    ids=["publisher", "subscriber", "relay"],
)
def test_a_zeromq_error_during_construction_is_a_radio_error_naming_the_endpoint(
    make: Any,
) -> None:
    """A terminated context: an EndpointError (a RadioError) naming the endpoint, no ZMQError."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctx.term()
    with pytest.raises(EndpointError, match=r"tcp://127\.0\.0\.1:") as caught:
        make(ctx)
    assert isinstance(caught.value, RadioError)


# -- the owner base ------------------------------------------------------------------------


class _Owner(SocketOwner):
    def __init__(self) -> None:
        self.closes = 0

    def _describe(self) -> str:
        return "tcp://here"

    def close(self) -> None:
        self.closes += 1
        self._closed = True


def test_the_owner_base_gives_context_manager_repr_and_closed_error() -> None:
    """with closes; the repr comes from the hook and marks closed; a closed owner says so."""
    with _Owner() as owner:
        assert repr(owner) == "<_Owner tcp://here>"
        owner._check_open()
    assert owner.closes == 1
    assert repr(owner) == "<_Owner tcp://here closed>"
    with pytest.raises(ClosedError, match=r"<_Owner tcp://here closed> is closed"):
        owner._check_open()


def test_publisher_subscriber_and_relay_share_the_owner_repr() -> None:
    """<ClassName channel='c' bind endpoint>, and the closed mark once closed."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        assert repr(pub) == f"<Publisher channel='c' bind {pub.endpoint}>"
        with Subscriber(pub.endpoint, channel="c") as sub:
            assert repr(sub) == f"<Subscriber channel='c' connect {pub.endpoint}>"
        with Relay(pub.endpoint, "tcp://127.0.0.1:*") as relay:
            assert repr(relay) == f"<Relay {pub.endpoint} -> {relay.backend}>"
        assert repr(relay).endswith(" closed>")
    assert repr(pub).endswith(" closed>")
    with pytest.raises(ClosedError, match=r"<Subscriber channel='c' connect .* closed> is closed"):
        sub.tune_in("s1")


# -- the Subscriber's seam: fileno and set_wakeup -----------------------------------------


def test_fileno_is_an_int_that_polls_readable_when_a_message_arrives() -> None:
    """The FD wakes a poller when a message arrives (edge-triggered: each try sends one more)."""
    with tuned() as (pub, sub):
        fd = sub.fileno()
        assert isinstance(fd, int)
        assert sub.fileno() == fd  # read once
        deadline = time.monotonic() + DEADLINE_S
        readable: list[int] = []
        while not readable:
            assert time.monotonic() < deadline, "the FD never polled readable"
            pub.send("s1", b"ping")
            readable, _, _ = select.select([fd], [], [], 0.05)
        assert sub.recv(timeout=DEADLINE_S) is not None
    with pytest.raises(ClosedError):
        sub.fileno()


def test_set_wakeup_is_called_outside_the_lock_when_messages_are_ready() -> None:
    """The service thread calls the hook once messages wait; it may call recv itself."""
    heard: list[bytes] = []
    woken = threading.Event()
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):

        def wake() -> None:
            message = sub.recv(0)  # would deadlock if called under the subscriber's lock
            if message is not None:
                heard.append(message.payload)
                woken.set()

        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        sub.set_wakeup(wake)
        pub.send("s1", b"hello")
        assert woken.wait(DEADLINE_S)
        assert heard == [b"hello"]
        sub.set_wakeup(None)
        pub.send("s1", b"after")
        assert [m.payload for m in recv_all(sub, 1)] == [b"after"]
        assert heard == [b"hello"]


# -- the Publisher's hook: watch ------------------------------------------------------------


def test_watch_calls_back_outside_the_lock_on_presence_changes_until_unwatched() -> None:
    """A tune-in and a tune-out each call the watchers; an unwatched one is not called."""
    counts = {"kept": 0, "dropped": 0}
    seen: list[int] = []
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
    ):

        def dropped() -> None:
            counts["dropped"] += 1

        def kept() -> None:
            counts["kept"] += 1
            seen.append(pub.listeners("s1"))  # would deadlock if called under the lock

        unwatch_dropped = pub.watch(dropped)
        pub.watch(kept)
        pub.open_session("s1")
        sub.tune_in("s1")
        wait_until(lambda: 1 in seen, what="a watcher seeing the listener")
        unwatch_dropped()
        unwatch_dropped()  # idempotent
        before = counts["dropped"]
        sub.tune_out("s1")
        wait_until(lambda: seen[-1] == 0, what="a watcher seeing the listener leave")
        assert counts["dropped"] == before
    with pytest.raises(ClosedError):
        pub.watch(kept)


@pytest.mark.parametrize(
    ("deadline", "now", "expected"),
    [(None, 5.0, 0.02), (10.0, 5.0, 0.02), (10.0, 9.99, pytest.approx(0.01)), (10.0, 10.0, None)],
)
def test_next_wait_slices_a_wait_and_gives_up_at_the_deadline(
    deadline: float | None, now: float, expected: object
) -> None:
    assert next_wait(deadline, now, 0.02) == expected
