"""Host A: a radio publisher at a steady rate that switches sessions and reports its listeners.

Usage: python -m tools.faults.publisher ENDPOINT CHANNEL RATE [TTL]. It
binds ENDPOINT, opens a session, reports ``ready`` and its listener count, and
starts sending on ``go``. ``switch`` closes the live session and opens a new
one; ``stop`` closes the live session (its subscribers hear the END) and stops
sending; ``exit`` (or EOF) closes the publisher. Every payload carries its send
time (`record.stamp`).
"""

from __future__ import annotations

import queue
import sys
import time
from typing import Final

from radio import Publisher
from tools.cli import configure_logging

from .peer import commands, emit, rss
from .record import stamp

REPORT_EVERY_S: Final[float] = 0.05
BURST: Final[int] = 10
"""Messages sent back to back before the pace is checked again."""


def main() -> None:
    """Run host A's publisher until ``exit``."""
    endpoint, channel, rate_text = sys.argv[1:4]
    ttl = float(sys.argv[4]) if len(sys.argv) > 4 else None
    rate = float(rate_text)
    configure_logging("json", verbosity=-1)
    inbox = commands(at_end="exit")
    with Publisher(endpoint, channel=channel) as pub:
        last = pub.open_session()
        live: str | None = last
        sent: dict[str, int] = {last: 0}
        emit("ready", session=last, mono=time.monotonic())
        sending = False
        paced_since = 0.0
        paced_sent = 0
        next_report = 0.0
        while True:
            now = time.monotonic()
            if now >= next_report:
                next_report = now + REPORT_EVERY_S
                emit("status", mono=now, live=live, listeners=pub.listeners(last), rss=rss())
            try:
                command = inbox.get_nowait()
            except queue.Empty:
                command = ""
            if command == "go":
                sending, paced_since, paced_sent = True, time.monotonic(), 0
            elif command == "switch" and live is not None:
                pub.close_session(live)
                last = live = pub.open_session()
                sent[live] = 0
                emit("switched", mono=time.monotonic(), session=live)
            elif command == "stop":
                if live is not None:
                    pub.close_session(live)
                live, sending = None, False
                emit("stopped", mono=time.monotonic(), sent=sent)
            elif command == "exit":
                return
            if not sending or live is None:
                time.sleep(0.005)  # idle: nothing to send until told
                continue
            if paced_sent >= (time.monotonic() - paced_since) * rate:
                time.sleep(0.001)
                continue
            for _ in range(BURST):
                sent[live] = pub.send(live, stamp(time.monotonic()), ttl=ttl)
            paced_sent += BURST


if __name__ == "__main__":
    main()
