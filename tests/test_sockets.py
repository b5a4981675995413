"""One socket set-up: SocketSettings, configure() and to_ms."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import zmq

from radio import InvalidSettingError
from radio.settings import Heartbeat, SocketSettings, to_ms
from radio.sockets import configure


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
