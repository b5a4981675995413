"""What the harness's peer processes share: JSON lines out, commands in, resident memory."""

from __future__ import annotations

import json
import queue
import signal
import sys
import threading
from typing import Any


def emit(event: str, **fields: Any) -> None:
    """Print one JSON line on stdout for the harness."""
    print(json.dumps({"event": event, **fields}), flush=True)


def commands(at_end: str = "stop") -> queue.Queue[str]:
    """A queue of the command lines the harness writes on stdin; *at_end* at EOF or SIGINT."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in sys.stdin:
            lines.put(line.strip())
        lines.put(at_end)

    signal.signal(signal.SIGINT, lambda *_: lines.put(at_end))
    threading.Thread(target=read, daemon=True).start()
    return lines


def rss() -> int:
    """Resident memory of the calling process in bytes (0 where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
