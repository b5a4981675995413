"""Tuned in means heard: a busy subscriber is seen, and the first message reaches it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from radio import Publisher, Subscriber
from tests.helpers import DEADLINE_S, free_tcp_endpoint, recv_all, retry_bind, wait_until


def _endpoint(transport: str, tmp_path: Path) -> str:
    return free_tcp_endpoint() if transport == "tcp" else f"ipc://{tmp_path}/heard.sock"


@pytest.mark.parametrize("transport", ["tcp", "ipc"])
@pytest.mark.parametrize("publisher_binds", [True, False], ids=["pub-binds", "pub-connects"])
@pytest.mark.parametrize("first", ["subscriber-first", "publisher-first"])
def test_busy_subscriber_is_seen_and_hears_the_first_message(
    transport: str, publisher_binds: bool, first: str, tmp_path: Path
) -> None:
    """The subscriber's application never calls into radio until the publisher has seen it."""
    address = _endpoint(transport, tmp_path)

    def start_publisher() -> Publisher:
        return retry_bind(lambda: Publisher(address, channel="c", bind=publisher_binds))

    def start_subscriber() -> Subscriber:
        sub = retry_bind(lambda: Subscriber(address, channel="c", bind=not publisher_binds))
        sub.tune_in("s1")
        return sub

    if first == "subscriber-first":
        sub = start_subscriber()
        pub = start_publisher()
    else:
        pub = start_publisher()
        sub = start_subscriber()
    try:
        pub.open_session("s1")
        # The subscriber's application is busy: only radio's own thread touches its socket.
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        assert pub.listeners("s1") == 1
        pub.send("s1", b"first")
        assert recv_all(sub, 1)[0].payload == b"first"
        time.sleep(1.0)  # sync-ok: the publisher's idle spell is what this test is about
        pub.send("s1", b"after idle")
        assert recv_all(sub, 1)[0].payload == b"after idle"
        assert sub.stats.gaps == 0
    finally:
        sub.close()
        pub.close()


@pytest.mark.parametrize("publisher_binds", [True, False], ids=["pub-binds", "pub-connects"])
def test_busy_follower_is_seen_in_each_new_session(publisher_binds: bool) -> None:
    """A follower whose application is busy still moves to a new session and is counted there."""
    address = free_tcp_endpoint()
    with (
        Subscriber(address, channel="c", bind=not publisher_binds) as sub,
        Publisher(address, channel="c", bind=publisher_binds) as pub,
    ):
        sub.follow()
        pub.open_session("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.open_session("s2")
        assert pub.wait_for_listener("s2", timeout=DEADLINE_S)
        pub.send("s2", b"hello")
        got = recv_all(sub, 1)
        assert (got[0].session, got[0].payload) == ("s2", b"hello")
        wait_until(lambda: pub.listeners("s1") == 0, what="the follower to leave s1")
