"""Test helpers: deadlines instead of sleeps, free endpoints, peer processes."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
import zmq

import radio
from radio import Message, Publisher, Subscriber

T = TypeVar("T")

DEADLINE_S = 10.0
PEERS = Path(__file__).parent / "peers"


def wait_until(predicate: Callable[[], T], timeout: float = DEADLINE_S, what: str = "") -> T:
    """Poll *predicate* until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.005)  # sync-ok: polling interval of a condition wait, not a synchronisation


def default_sigint() -> None:
    """preexec_fn for children that the tests interrupt with SIGINT.

    A shell that runs the tests in the background hands its children SIGINT
    ignored, and Python then never raises KeyboardInterrupt: restore the default.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def tuned(
    session: str = "s1",
    *,
    channel: str = "c",
    pub: dict[str, Any] | None = None,
    sub: dict[str, Any] | None = None,
) -> Iterator[tuple[Publisher, Subscriber]]:
    """A publisher on tcp loopback with *session* open and a subscriber tuned in to it.

    It yields once the publisher sees the subscriber listen; *pub* and *sub* are
    more constructor settings for each.
    """
    with (
        Publisher("tcp://127.0.0.1:*", channel=channel, **(pub or {})) as publisher,
        Subscriber(publisher.endpoint, channel=channel, **(sub or {})) as subscriber,
    ):
        publisher.open_session(session)
        subscriber.tune_in(session)
        assert publisher.wait_for_listener(session, timeout=DEADLINE_S)
        yield publisher, subscriber


def free_tcp_endpoint() -> str:
    """Return a tcp://127.0.0.1:PORT endpoint whose port was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.1:{port}"


def retry_bind(make: Callable[[], T], timeout: float = DEADLINE_S) -> T:
    """Call *make* until it stops failing with 'address in use' (a closed listener lingers)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return make()
        except (radio.EndpointError, zmq.ZMQError) as exc:
            if getattr(exc, "errno", None) != zmq.EADDRINUSE or time.monotonic() > deadline:
                raise
            time.sleep(0.01)  # sync-ok: retry interval while the old listener closes


def recv_all(sub: Subscriber, count: int, timeout: float = DEADLINE_S) -> list[Message]:
    """Receive exactly *count* messages, failing at the deadline."""
    deadline = time.monotonic() + timeout
    got: list[Message] = []
    while len(got) < count:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"received {len(got)} of {count} messages before the deadline")
        message = sub.recv(timeout=remaining)
        if message is not None:
            got.append(message)
    return got


def drain(sub: Subscriber, quiet: float = 0.3) -> list[Message]:
    """Receive until nothing arrives for *quiet* seconds (to show nothing more comes)."""
    got: list[Message] = []
    while (message := sub.recv(timeout=quiet)) is not None:
        got.append(message)
    return got


class Peer:
    """A peer script from tests/peers run as a real subprocess, read line by line."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(PEERS / script), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def readline(self, timeout: float = DEADLINE_S) -> str | None:
        """Return the peer's next stdout line, or None once it has exited."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"peer {self.proc.args} printed nothing for {timeout} s")

    def expect(self, wanted: str, timeout: float = DEADLINE_S) -> None:
        """Read lines until one equals *wanted*."""
        deadline = time.monotonic() + timeout
        while (line := self.readline(max(0.0, deadline - time.monotonic()))) != wanted:
            if line is None:
                pytest.fail(f"peer exited before printing {wanted!r}")

    def stop(self) -> None:
        """Kill the peer if it still runs and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)


def release_fifo(path: Path) -> None:
    """Let go a reader stuck opening the FIFO *path*: open its write end for a moment.

    The reader's open then returns and its read sees the end of the file. A
    no-op when nobody waits on the FIFO (ENXIO) or it is gone.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    os.close(fd)
