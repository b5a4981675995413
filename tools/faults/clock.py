"""Clock skew for a simulated host: libfaketime preloaded into its processes (wall clock only)."""

from __future__ import annotations

import glob
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


def skew_env(offset_s: float) -> dict[str, str]:
    """Environment that moves a process's wall clock by *offset_s* seconds.

    The monotonic clock stays true (the harness measures ages on it), and every
    clock call reads the offset afresh rather than from a cache.
    """
    library = libfaketime()
    if library is None:
        raise RuntimeError(why_no_skew())
    if not offset_s:
        return {}
    return {
        "LD_PRELOAD": library,
        "FAKETIME": f"{offset_s:+g}s",
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "FAKETIME_NO_CACHE": "1",
    }
