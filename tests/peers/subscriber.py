"""Test peer: a radio subscriber in its own process; prints one JSON line per message."""

from __future__ import annotations

import json
import sys

import structlog

from radio import Subscriber

structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))

# argv: endpoint channel (session|--follow) (connect|bind) [hwm]
endpoint, channel, session, mode = sys.argv[1:5]
hwm = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
with Subscriber(endpoint, channel=channel, bind=mode == "bind", hwm=hwm) as sub:
    if session == "--follow":
        sub.follow()
    else:
        sub.tune_in(session)
    print("ready", flush=True)
    for message in sub:
        line = {"session": message.session, "seq": message.seq, "payload": message.payload.decode()}
        print(json.dumps(line), flush=True)
