"""Hosts C and D: a library subscriber that follows the live session and checks what it hears.

Usage: python -m tools.faults.follower ENDPOINT CHANNEL [TOO_OLD_S]. It
reports ``ready``, then a ``status`` line every 0.1 s (the last sequence number
heard per `record.stream`, and the subscriber's stats), and on ``stop`` (or EOF,
or SIGINT) a ``final`` line with its `Recorder` summary and the subscriber's stats.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from typing import Final

from radio import Subscriber
from tools.cli import configure_logging

from .peer import commands, emit
from .record import Recorder, run_of, sent_time, stream

REPORT_EVERY_S: Final[float] = 0.1


def main() -> None:
    """Follow the channel until told to stop; report everything heard."""
    endpoint, channel = sys.argv[1:3]
    too_old_s = float(sys.argv[3]) if len(sys.argv) > 3 else None
    configure_logging("json", verbosity=0)  # info: publisher changes and restarts
    inbox = commands()
    record = Recorder(too_old_s=too_old_s)
    with Subscriber(endpoint, channel=channel) as sub:
        sub.follow()
        emit("ready", mono=time.monotonic())
        next_report = 0.0
        while inbox.empty():
            message = sub.recv(timeout=0.02)
            now = time.monotonic()
            if message is not None:
                payload = message.payload
                key = stream(message.session, run_of(payload))
                record.add(key, message.seq, sent_time(payload), now)
            if now >= next_report:
                next_report = now + REPORT_EVERY_S
                last = {name: tally.last for name, tally in record.sessions.items()}
                stats = dataclasses.asdict(sub.stats)
                emit("status", mono=now, last=last, received=record.received, stats=stats)
        stats = dataclasses.asdict(sub.stats)
        sub.unfollow()
    emit("final", summary=record.summary(), stats=stats)


if __name__ == "__main__":
    main()
