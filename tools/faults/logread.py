"""What a peer's stderr log tells the harness: its events by name, and radio-sub's stats lines."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

STATS_LINE_START = "received="
"""How a ``radio-sub --stats`` line starts: ``received=N gaps=N ... lost=N rate=N/s``."""


def events(log: Path) -> dict[str, int]:
    """How many times each event was logged (JSON lines with an ``event`` field)."""
    counts: Counter[str] = Counter()
    for line in _lines(log):
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and isinstance(record.get("event"), str):
                counts[record["event"]] += 1
    return dict(counts)


def stats_lines(log: Path) -> list[dict[str, float]]:
    """The counters of every ``radio-sub --stats`` line, in order (not its ``rate=N/s``)."""
    found = []
    for line in _lines(log):
        if line.startswith(STATS_LINE_START):
            counters: dict[str, float] = {}
            for word in line.split():
                key, _, value = word.partition("=")
                try:
                    counters[key] = float(value)
                except ValueError:
                    continue  # rate=123/s
            found.append(counters)
    return found


def _lines(log: Path) -> list[str]:
    try:
        return log.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return []
