"""A presence flood from its own process: one raw SUB sends forged subscriptions, then leaves."""

from __future__ import annotations

import sys

import zmq

from radio.core.names import marker_topic


def main() -> None:
    """Usage: python -m tools.soak.flooder ENDPOINT TOPIC COUNT.

    Subscribes to COUNT presence markers of TOPIC with made-up listener IDs, prints
    ``sent``, and closes its socket (libzmq then unsubscribes every one of them on
    the other side) when a line arrives on stdin or stdin closes; prints ``left``.
    """
    endpoint, topic, count = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3])
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SNDHWM, 0)  # subscriptions are messages: never cut the flood short
    sock.connect(endpoint)
    for index in range(count):
        sock.subscribe(marker_topic(topic, b"forged-%d" % index))
    print("sent", flush=True)
    sys.stdin.readline()
    sock.close(linger=0)
    print("left", flush=True)


if __name__ == "__main__":
    main()
