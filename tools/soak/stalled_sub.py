"""A subscriber whose application stops reading, in a process of its own (libzmq may abort it)."""

from __future__ import annotations

import sys
import time
from typing import Final

from radio import Publisher, Subscriber

SENT: Final[int] = 20_000
"""Messages the publisher sends while the application does not read."""

SCENARIOS: Final[tuple[str, ...]] = ("publisher-closes", "stall-then-read")


def main() -> None:
    """Usage: python -m tools.soak.stalled_sub SCENARIO.

    A `Subscriber(hwm=10)` whose application does not read while its publisher
    sends `SENT` messages; then the publisher closes while it still does not read
    (``publisher-closes``), or the stall goes on past the heartbeat timeout and
    then it reads everything (``stall-then-read``). Prints ``alive TAKEN RECEIVED
    GAPS``: on libzmq 4.3.5 a full SUB queue made the process abort (SIGABRT)
    instead (issue 18). The pauses are the stall under test, not synchronisation.
    """
    scenario = sys.argv[1]
    if scenario not in SCENARIOS:
        sys.exit(f"unknown scenario {scenario!r}: one of {', '.join(SCENARIOS)}")
    pub = Publisher("tcp://127.0.0.1:*", channel="c", hwm=100_000)
    sub = Subscriber(pub.endpoint, channel="c", hwm=10, heartbeat=0.1, heartbeat_timeout=0.5)
    pub.open_session("s")
    sub.tune_in("s")
    if not pub.wait_for_listener("s", timeout=10.0):
        sys.exit("the subscriber was never counted")
    for _ in range(SENT):
        pub.send("s", b"x" * 200)
    deadline = time.monotonic() + 10.0
    taken = 0
    while time.monotonic() < deadline:  # the application does not read: the stall under test
        taken = sub.stats.received + sub.stats.gaps
        if taken == SENT:
            break
        time.sleep(0.05)  # sync-ok: polling the counters, with a deadline
    if scenario == "publisher-closes":
        pub.close()
        time.sleep(1.5)  # sync-ok: it still does not read as the connection ends
    else:
        time.sleep(1.0)  # sync-ok: the stall goes on past the heartbeat timeout, then it reads
        while sub.recv(timeout=0.5) is not None:
            pass
        pub.close()
    stats = sub.stats
    sub.close()
    print("alive", taken, stats.received, stats.gaps, flush=True)


if __name__ == "__main__":
    main()
