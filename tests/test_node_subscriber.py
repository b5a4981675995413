"""A second implementation, in Node.js, written from docs/protocol.md alone.

tests/peers/node decodes the conformance vectors and follows a live radio publisher:
what it can do, the protocol page was complete enough to tell.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from radio import Publisher
from tests.helpers import DEADLINE_S, PEERS, wait_until

NODE_PEER = PEERS / "node"
VECTORS = Path(__file__).parent.parent / "docs" / "protocol" / "vectors.json"
NPM_CI_TIMEOUT_S = 300.0


@pytest.fixture(scope="session")
def node() -> str:
    """The node binary, once `npm ci` has installed tests/peers/node's packages."""
    node_bin, npm_bin = shutil.which("node"), shutil.which("npm")
    if node_bin is None or npm_bin is None:
        pytest.skip("node or npm is not installed")
    try:
        done = subprocess.run(
            [npm_bin, "ci", "--quiet", "--no-audit", "--no-fund"],
            cwd=NODE_PEER,
            capture_output=True,
            text=True,
            timeout=NPM_CI_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm ci took longer than {NPM_CI_TIMEOUT_S} s")
    if done.returncode != 0:
        pytest.skip(f"npm ci failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return node_bin


def test_node_replays_every_vector(node: str) -> None:
    """The Node.js decoder and subscriber pass every frame, message and sequence vector."""
    done = subprocess.run(
        [node, "replay.js", str(VECTORS)],
        cwd=NODE_PEER,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S * 3,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    vectors: dict[str, Any] = json.loads(VECTORS.read_text())
    names = [v["name"] for part in ("frames", "messages", "sequences") for v in vectors[part]]
    lines = set(done.stdout.splitlines())
    assert [name for name in names if f"ok {name}" not in lines] == []


def test_node_subscriber_hears_a_live_publisher(node: str) -> None:
    """A Node.js subscriber is counted as a listener and prints every payload in order."""
    payloads = [f"message {i} \N{EURO SIGN}" for i in range(20)]
    with Publisher("tcp://127.0.0.1:*", channel="nodes") as pub:
        session = pub.open_session()
        follower = subprocess.Popen(
            [node, "follow.js", pub.endpoint, "nodes", session, str(len(payloads))],
            cwd=NODE_PEER,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def listening() -> bool:
                if follower.poll() is not None:
                    pytest.fail(f"follow.js exited early ({follower.returncode})")
                return pub.wait_for_listener(session, timeout=0.2)

            wait_until(listening, what="the node subscriber's presence marker")
            for payload in payloads:
                pub.send(session, payload.encode())
            out, err = follower.communicate(timeout=DEADLINE_S)
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.communicate()
    assert follower.returncode == 0, err
    assert out.splitlines() == payloads
    assert "ready" in err.splitlines()
