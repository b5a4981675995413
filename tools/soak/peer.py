"""A soak subscriber process: tunes in to one session, checks every message, reports."""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time

from radio import Subscriber
from tools.cli import configure_logging

REPORT_EVERY_S = 0.1


def main() -> None:
    """Usage: python -m tools.soak.peer ENDPOINT CHANNEL SESSION."""
    endpoint, channel, session = sys.argv[1:4]
    # Ctrl-C means "exit cleanly" here even when started from a shell that ignores it
    # for background jobs (a child inherits SIG_IGN and Python keeps it).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    configure_logging("json", verbosity=-1)
    counts = {"received": 0, "stale": 0, "gaps": 0, "first_seq": 0, "last_seq": 0}
    with Subscriber(endpoint, channel=channel) as sub:
        sub.tune_in(session)
        print("ready", flush=True)
        next_report = time.monotonic()
        while True:
            message = sub.recv(timeout=REPORT_EVERY_S)
            if message is not None:
                if message.session != session:
                    counts["stale"] += 1
                else:
                    if counts["last_seq"] and message.seq != counts["last_seq"] + 1:
                        counts["gaps"] += max(0, message.seq - counts["last_seq"] - 1)
                    counts["first_seq"] = counts["first_seq"] or message.seq
                    counts["last_seq"] = message.seq
                    counts["received"] += 1
            now = time.monotonic()
            if now >= next_report:
                next_report = now + REPORT_EVERY_S
                print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
