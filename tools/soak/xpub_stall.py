"""libzmq alone under a presence flood: how long one XPUB call takes, with no radio code.

``python -m tools.soak.xpub_stall [subscriptions]`` binds a raw pyzmq XPUB set up as
radio's publisher sets its socket (``XPUB_VERBOSER``, RCVHWM 1000), has one SUB peer
subscribe to that many distinct topics (200,000 by default), reads them all, then
closes the peer and sends until every unsubscription was read. It prints the
longest single non-blocking call (``recv`` or ``send``, never ``poll``) in each
phase: libzmq adds a peer's queued subscriptions to its trie, and removes all of
a leaving peer's, inside whichever socket call processes them.
"""

from __future__ import annotations

import sys
import time

import zmq


def _timed(call: object, *args: object) -> tuple[bool, float]:
    """Call *call* non-blocking; return whether it did something, and how long it took."""
    start = time.perf_counter()
    try:
        call(*args, zmq.NOBLOCK)  # type: ignore[operator]
    except zmq.Again:
        return False, time.perf_counter() - start
    return True, time.perf_counter() - start


def measure(count: int) -> tuple[float, float]:
    """The longest call (seconds) while *count* subscriptions arrive, and after the peer left."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    xpub = ctx.socket(zmq.XPUB)
    xpub.setsockopt(zmq.XPUB_VERBOSER, 1)
    xpub.setsockopt(zmq.RCVHWM, 1000)
    port = xpub.bind_to_random_port("tcp://127.0.0.1")
    peer = ctx.socket(zmq.SUB)
    peer.setsockopt(zmq.SNDHWM, 0)
    peer.connect(f"tcp://127.0.0.1:{port}")
    try:
        for index in range(count):
            peer.subscribe(b"c/flooded/\x00forged-%d" % index)
        arriving = _drain(xpub, count, lambda: None)
        peer.close(linger=0)
        leaving = _drain(xpub, count, lambda: xpub.send(b"c/s/x", zmq.NOBLOCK))
        return arriving, leaving
    finally:
        peer.close(linger=0)
        xpub.close(linger=0)


def _drain(xpub: zmq.Socket[bytes], count: int, between: object) -> float:
    """Read *count* subscription messages (calling *between* each round); the longest call."""
    longest, read, deadline = 0.0, 0, time.monotonic() + 60
    while read < count and time.monotonic() < deadline:
        start = time.perf_counter()
        between()  # type: ignore[operator]
        longest = max(longest, time.perf_counter() - start)
        while True:
            got, took = _timed(xpub.recv)
            longest = max(longest, took)
            if not got:
                break
            read += 1
        xpub.poll(100)
    return longest


def main() -> None:
    """Entry point of ``python -m tools.soak.xpub_stall``."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    arriving, leaving = measure(count)
    print(f"raw XPUB, {count:,} subscriptions from one peer (no radio code):")
    print(f"  longest call while they arrive:   {arriving * 1000:.1f} ms")
    print(f"  longest call after the peer left: {leaving * 1000:.1f} ms")


if __name__ == "__main__":
    main()
