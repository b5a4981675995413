"""Presence and liveness under faults: real processes, real signals, default settings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from radio import ListenerEvent, Publisher, Subscriber
from tests.helpers import DEADLINE_S, default_sigint, free_tcp_endpoint, recv_all, wait_until
from tools import child_env

BIN = Path(sys.executable).parent

# The bounds the project promises with default settings (DESIGN.md guarantee 3).
LEAVE_NOTICED_S = {"exit": 1.0, "kill": 1.0, "freeze": 5.0}


@pytest.fixture
def broadcasting() -> Iterator[Publisher]:
    """A publisher that keeps broadcasting on session s1 from a thread, as in production."""
    stop = threading.Event()
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s1")

        def run() -> None:
            while not stop.is_set():
                pub.send("s1", b"x" * 100)
                stop.wait(0.0005)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        yield pub
        stop.set()
        thread.join()


def _radio_sub(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / "radio-sub"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=default_sigint,
    )


@pytest.mark.parametrize("fault", ["exit", "kill", "freeze"])
def test_listener_count_drops_within_the_bound(broadcasting: Publisher, fault: str) -> None:
    """Clean exit and SIGKILL are seen within 1 s, a frozen process (SIGSTOP) within 5 s."""
    pub = broadcasting
    proc = _radio_sub("-e", pub.endpoint, "-c", "c", "-s", "s1")
    try:
        wait_until(lambda: pub.listeners("s1") == 1, what="the subscriber to tune in")
        os.kill(
            proc.pid,
            {"exit": signal.SIGINT, "kill": signal.SIGKILL, "freeze": signal.SIGSTOP}[fault],
        )
        wait_until(
            lambda: pub.listeners("s1") == 0,
            timeout=LEAVE_NOTICED_S[fault],
            what=f"the publisher to notice the {fault}",
        )
    finally:
        if fault == "freeze":
            os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def test_on_listener_reports_joins_and_leaves() -> None:
    """The application is told, outside any lock, when listeners come and go."""
    events: list[ListenerEvent] = []
    with Publisher("tcp://127.0.0.1:*", channel="c", on_listener=events.append) as pub:
        pub.open_session("s1")
        with Subscriber(pub.endpoint, channel="c") as sub:
            sub.tune_in("s1")
            wait_until(lambda: len(events) == 1, what="the join event")
        wait_until(lambda: len(events) == 2, what="the leave event")
    assert [(e.session, e.joined, e.listeners) for e in events] == [
        ("s1", True, 1),
        ("s1", False, 0),
    ]


def test_a_failing_callback_does_not_stop_presence() -> None:
    """An exception in on_listener is logged; the publisher keeps serving."""

    def explode(event: ListenerEvent) -> None:
        raise RuntimeError("application bug")

    with Publisher("tcp://127.0.0.1:*", channel="c", on_listener=explode) as pub:
        pub.open_session("s1")
        for _ in range(2):
            with Subscriber(pub.endpoint, channel="c") as sub:
                sub.tune_in("s1")
                assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
                pub.send("s1", b"still here")
                assert recv_all(sub, 1)[0].payload == b"still here"
            wait_until(lambda: pub.listeners("s1") == 0, what="the leave to be seen")


def _radio_pub(endpoint: str, session: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            str(BIN / "radio-pub"),
            "-e",
            endpoint,
            "-c",
            "c",
            "-s",
            session,
            "--rate",
            "200",
            "--count",
            "1000000",
            "--beacon-interval",
            "0.2",
            session,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_subscriber_notices_a_frozen_publisher_and_its_return() -> None:
    """Missed beacons turn on_air False; the next beacon turns it True again."""
    endpoint = free_tcp_endpoint()
    pub = _radio_pub(endpoint, "s1")
    try:
        with Subscriber(endpoint, channel="c") as sub:
            sub.follow()
            assert recv_all(sub, 1)[0].session == "s1"
            assert sub.on_air
            os.kill(pub.pid, signal.SIGSTOP)
            wait_until(lambda: not sub.on_air, what="off air (3 missed beacons)")
            os.kill(pub.pid, signal.SIGCONT)
            wait_until(lambda: sub.recv(0.05) is not None and sub.on_air, what="back on air")
    finally:
        os.kill(pub.pid, signal.SIGCONT)
        pub.kill()
        pub.wait()


def test_follower_moves_to_a_restarted_publishers_session_hearing_nothing_old() -> None:
    """The publisher dies and comes back with a new session: no message of the old one."""
    endpoint = free_tcp_endpoint()
    first = _radio_pub(endpoint, "before")
    try:
        with Subscriber(endpoint, channel="c", hwm=100_000) as sub:
            sub.follow()
            assert recv_all(sub, 5)[0].session == "before"
            first.kill()
            first.wait()
            wait_until(lambda: not sub.on_air, what="the dead publisher to be off air")
            second = _radio_pub(endpoint, "after")
            try:
                got = recv_all(sub, 20)
                sessions = [m.session for m in got]
                # once "after" is heard, "before" never comes back
                assert "after" in sessions
                tail = sessions[sessions.index("after") :]
                assert set(tail) == {"after"}
                assert sub.live == "after"
                assert sub.on_air
            finally:
                second.kill()
                second.wait()
    finally:
        first.kill()
        first.wait()


@pytest.mark.slow
@pytest.mark.wallclock
def test_short_soak_finds_every_guarantee_kept(tmp_path: Path) -> None:
    """`python -m tools.soak.main --quick`: faults while broadcasting; 0 only if all checks pass."""
    result = subprocess.run(
        [sys.executable, "-m", "tools.soak.main", "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=child_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "reliability.md").read_text()
    assert "| stale messages delivered (must be 0) | 0 |" in page
    assert "all checks passed" in page


def test_ctrl_c_at_any_moment_lets_a_busy_subscriber_exit(broadcasting: Publisher) -> None:
    """SIGINT lands anywhere in the receive loop (even between taking and releasing the
    lock): the process always unwinds, closes and exits."""
    for attempt in range(15):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools.soak.peer", broadcasting.endpoint, "c", "s1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=child_env(),
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            wait_until(lambda: broadcasting.listeners("s1") >= 1, what="the peer to tune in")
            deadline = threading.Event()
            deadline.wait(0.01 * (attempt % 5))  # sync-ok: vary where the signal lands
            os.kill(proc.pid, signal.SIGINT)
            proc.wait(timeout=5)
        finally:
            proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
