"""Test peer: a radio publisher in its own process that connects and sends at a set rate.

argv: endpoint channel session rate count wait
  wait "listener": start sending once a subscriber is tuned in to the session;
  wait "channel": once any radio subscriber is on the channel.
  count 0 sends for ever; otherwise it prints "sent LAST_SEQ" and stays on air, idle.
It prints "ready" once its session is open. SIGTERM closes the publisher cleanly
(its ENDs and the signing-off beacon) and exits 0.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from types import FrameType

import structlog

from radio import Publisher

structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


signal.signal(signal.SIGTERM, _terminate)

endpoint, channel, session, rate_text, count_text, wait = sys.argv[1:7]
rate, count = float(rate_text), int(count_text)
with Publisher(endpoint, channel=channel, bind=False) as pub:
    pub.open_session(session)
    print("ready", flush=True)
    if wait == "listener":
        pub.wait_for_listener(session)
    else:
        while not pub.channel_listeners():
            threading.Event().wait(0.01)  # sync-ok: polling a condition
    start = time.monotonic()
    sent = 0
    while not count or sent < count:
        delay = start + sent / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # sync-ok: pacing the send rate
        last = pub.send(session, b"%s %d" % (session.encode(), sent))
        sent += 1
    print(f"sent {last}", flush=True)
    threading.Event().wait()  # on air, idle, until a signal
