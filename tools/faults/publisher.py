"""Host A: a radio publisher at a steady rate that switches sessions and reports its listeners.

Usage: python -m tools.faults.publisher ENDPOINT CHANNEL RATE [--ttl S]
[--session NAME] [--run N] [--counter FILE]. It binds ENDPOINT, opens a
session (NAME, or a new ID), reports ``ready`` and its listener count, and
starts sending on ``go``. ``switch`` closes the live session and opens a new
one; ``stop`` closes the live session (its subscribers hear the END) and stops
sending; ``exit`` (or EOF) closes the publisher. Every payload carries its send
time and the run N (`record.stamp`); ``sent`` counts are keyed by `record.stream`.
With ``--counter`` the number of messages sent so far is kept in FILE (8 bytes,
native order), written before each send, so that it survives a SIGKILL.
"""

from __future__ import annotations

import argparse
import mmap
import queue
import struct
import threading
import time
from contextlib import ExitStack
from typing import Final

from radio import Publisher
from tools.cli import configure_logging

from .peer import commands, emit, rss
from .record import stamp, stream

REPORT_EVERY_S: Final[float] = 0.05
BURST: Final[int] = 10
"""Messages sent back to back before the pace is checked again."""
COUNTER: Final = struct.Struct("=Q")

pause: Final = threading.Event().wait
"""Sleep this long: not `time.sleep`, which Python 3.11 makes an absolute clock_nanosleep on
the monotonic clock, which libfaketime 0.9.10 turns into EINVAL when it leaves that clock
alone (libfaketime issue 426), as the stepped hosts here have it."""


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.faults.publisher")
    parser.add_argument("endpoint")
    parser.add_argument("channel")
    parser.add_argument("rate", type=float)
    parser.add_argument("--ttl", type=float, default=None)
    parser.add_argument("--session", default=None)
    parser.add_argument("--run", type=int, default=1)
    parser.add_argument("--counter", default=None)
    return parser.parse_args()


def read_counter(path: str) -> int:
    """Messages a publisher run with ``--counter`` *path* had sent (or was sending)."""
    with open(path, "rb") as file:
        return int(COUNTER.unpack(file.read(COUNTER.size))[0])


def main() -> None:
    """Run host A's publisher until ``exit``."""
    args = _arguments()
    rate, ttl, run = args.rate, args.ttl, args.run
    configure_logging("json", verbosity=-1)
    inbox = commands(at_end="exit")
    with ExitStack() as stack:
        counter: mmap.mmap | None = None
        if args.counter is not None:
            file = stack.enter_context(open(args.counter, "w+b"))
            file.write(bytes(COUNTER.size))
            file.flush()
            counter = stack.enter_context(mmap.mmap(file.fileno(), COUNTER.size))
        pub = stack.enter_context(Publisher(args.endpoint, channel=args.channel))
        last = pub.open_session(args.session)
        live: str | None = last
        sent: dict[str, int] = {stream(last, run): 0}
        emit("ready", session=last, run=run, mono=time.monotonic())
        sending = False
        paced_since = 0.0
        paced_sent = 0
        next_report = 0.0
        while True:
            now = time.monotonic()
            if now >= next_report:
                next_report = now + REPORT_EVERY_S
                status = {"live": live, "listeners": pub.listeners(last), "rss": rss()}
                emit("status", mono=now, run=run, **status)
            try:
                command = inbox.get_nowait()
            except queue.Empty:
                command = ""
            if command == "go":
                sending, paced_since, paced_sent = True, time.monotonic(), 0
            elif command == "switch" and live is not None:
                pub.close_session(live)
                last = live = pub.open_session()
                sent[stream(live, run)] = 0
                emit("switched", mono=time.monotonic(), session=live)
            elif command == "stop":
                if live is not None:
                    pub.close_session(live)
                live, sending = None, False
                emit("stopped", mono=time.monotonic(), sent=sent)
            elif command == "exit":
                return
            if not sending or live is None:
                pause(0.005)  # idle: nothing to send until told
                continue
            if paced_sent >= (time.monotonic() - paced_since) * rate:
                pause(0.001)  # paced
                continue
            key = stream(live, run)
            for _ in range(BURST):
                if counter is not None:
                    COUNTER.pack_into(counter, 0, sum(sent.values()) + 1)
                sent[key] = pub.send(live, stamp(time.monotonic(), run), ttl=ttl)
            paced_sent += BURST


if __name__ == "__main__":
    main()
