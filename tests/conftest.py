"""Shared fixtures: an endpoint of each transport, peer processes cleaned up."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from tests.helpers import Peer, free_tcp_endpoint

_inproc_names = itertools.count()


@pytest.fixture(params=["tcp", "ipc", "inproc"])
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh endpoint on each transport."""
    if request.param == "tcp":
        return free_tcp_endpoint()
    if request.param == "ipc":
        return f"ipc://{tmp_path}/radio.sock"
    return f"inproc://radio-test-{os.getpid()}-{next(_inproc_names)}"


@pytest.fixture
def peers() -> Iterator[Callable[..., Peer]]:
    """Start peer subprocesses; every one is killed at the end of the test."""
    started: list[Peer] = []

    def start(script: str, *args: str) -> Peer:
        peer = Peer(script, *args)
        started.append(peer)
        return peer

    yield start
    for peer in started:
        peer.stop()


@pytest.fixture
def raw_subs() -> Iterator[list[zmq.Socket[bytes]]]:
    """Raw pyzmq SUB sockets made by the test; all closed at the end."""
    made: list[zmq.Socket[bytes]] = []
    yield made
    for sock in made:
        sock.close(linger=0)
