"""Wall clocks of simulated hosts: libfaketime preloaded, its offset read from a file we rewrite.

Each skewed or stepped host has a timestamp file (``FAKETIME_TIMESTAMP_FILE``)
holding its offset, such as ``+5s``; every process on the host reads it afresh
on each wall-clock call (``FAKETIME_NO_CACHE``), so rewriting the file steps
the wall clock of every process there at once, like an NTP step. The monotonic
clock stays true (``FAKETIME_DONT_FAKE_MONOTONIC``): radio judges ages on it,
and so does the harness.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Final

LIBFAKETIME_PATTERNS: Final = (
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/*-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
    "/usr/local/lib/faketime/libfaketime.so.1",
)


def libfaketime() -> str | None:
    """Where libfaketime is installed (None when it is not: `make faults-deps` installs it)."""
    for pattern in LIBFAKETIME_PATTERNS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def why_no_skew() -> str | None:
    """Why clock skew cannot be simulated here (None when it can)."""
    if libfaketime() is None:
        return "libfaketime is not installed (apt-get install faketime; make faults-deps)"
    return None


def offset_text(offset_s: float) -> str:
    """The libfaketime spelling of a relative offset: ``+5s``, ``-30s``, ``+0s``."""
    return f"{offset_s:+g}s"


class HostClock:
    """The wall clock of one host: its offset from the true one, held in a timestamp file."""

    def __init__(self, path: Path, offset_s: float = 0.0) -> None:
        self.path = path
        self.offset_s = offset_s
        self.set(offset_s)

    def __repr__(self) -> str:
        return f"HostClock({str(self.path)!r}, offset_s={self.offset_s:+g})"

    def set(self, offset_s: float) -> None:
        """Move the host's wall clock to *offset_s* from the true one (a step, from now on).

        The file is replaced whole (rename), so no process ever reads half of it.
        """
        scratch = self.path.with_name(self.path.name + ".new")
        scratch.write_text(offset_text(offset_s) + "\n")
        os.replace(scratch, self.path)
        self.offset_s = offset_s

    def env(self) -> dict[str, str]:
        """Environment that gives a process this host's wall clock (and the true monotonic one)."""
        library = libfaketime()
        if library is None:
            raise RuntimeError(why_no_skew())
        return {
            "LD_PRELOAD": library,
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "FAKETIME_NO_CACHE": "1",
        }
