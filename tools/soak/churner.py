"""A raw SUB in its own process that churns presence subscriptions as fast as it can."""

from __future__ import annotations

import itertools
import sys

import zmq

from radio.core.names import marker_topic, session_topic


def main() -> None:
    """Usage: python -m tools.soak.churner ENDPOINT CHANNEL SESSION.

    Holds one listener on SESSION for good (a raw SUB never reads an END, so it
    never tunes out), prints ``ready``, then subscribes and unsubscribes made-up
    listeners on it as fast as it can until it is killed.
    """
    endpoint, channel, session = sys.argv[1:4]
    topic = session_topic(channel, session)
    sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SNDHWM, 0)  # subscriptions are messages: never cut the churn short
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.subscribe(marker_topic(topic, b"steady"))
    print("ready", flush=True)
    churned = [marker_topic(topic, b"churn-%d" % i) for i in range(64)]
    for marker in itertools.cycle(churned):
        sock.subscribe(marker)
        sock.unsubscribe(marker)


if __name__ == "__main__":
    main()
