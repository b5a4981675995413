"""Whether radio's hot loops run in C (``radio._hot``), bound to the libzmq pyzmq loaded.

The C module declares the few libzmq functions it calls and takes their addresses
from the copy of libzmq already in this process (pyzmq's own, or the system's it
was built against), found in the process's memory map and opened again with
``RTLD_NOLOAD``: the very library pyzmq's sockets live in, never a second one. No
header and no link at build time. Anything missing (no compiled module,
``RADIO_PURE=1``, no ``/proc``, a libzmq older than 4.1) leaves ``MODULE`` None
and the drivers on their pyzmq paths; `REASON` says why.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from pathlib import Path
from types import ModuleType
from typing import Final

import zmq

FUNCTIONS: Final[tuple[str, ...]] = (
    "zmq_msg_init",
    "zmq_msg_init_size",
    "zmq_msg_send",
    "zmq_msg_recv",
    "zmq_msg_close",
    "zmq_msg_data",
    "zmq_msg_size",
    "zmq_msg_more",
    "zmq_errno",
    "zmq_poll",
)
"""The libzmq functions ``radio._hot`` calls."""


_SOURCE: Final = Path(__file__).resolve().parent / "_hot.pyx"
_NOTE: Final = _SOURCE.parent / "_build.txt"


def _stale() -> str:
    """Why the built module may not be used ("" when it may): an edited source."""
    try:
        source = _SOURCE.read_bytes()
    except OSError:
        return ""  # an installed wheel: no source beside the module, nothing to prefer
    try:
        notes = _NOTE.read_text(encoding="ascii").splitlines()
    except OSError:
        return "no build note (radio/_build.txt)"
    if f"_hot.pyx {hashlib.sha256(source).hexdigest()}" not in notes:
        return "_hot.pyx changed since it was compiled (run make install)"
    return ""


def _loaded_libzmq() -> str:
    """The path of the one libzmq mapped into this process (pyzmq's)."""
    import zmq.backend.cython._zmq  # noqa: F401 - its libzmq is what we look for

    paths = set()
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(None, 5)
            if len(fields) == 6 and "libzmq" in os.path.basename(fields[5].strip()):
                paths.add(fields[5].strip())
    if len(paths) != 1:
        raise OSError(f"expected one libzmq in this process, found {sorted(paths) or 'none'}")
    return paths.pop()


def _bind() -> tuple[ModuleType | None, str]:
    """The bound C module, or None and why not."""
    if os.environ.get("RADIO_PURE", "") not in ("", "0"):
        return None, "RADIO_PURE is set"
    if zmq.zmq_version_info() < (4, 1):  # zmq_msg_t grew to 64 bytes in 4.1
        return None, f"libzmq {zmq.zmq_version()} is older than 4.1"
    try:
        from radio import _hot  # type: ignore[attr-defined]
    except ImportError as exc:
        return None, f"radio._hot is not built ({exc})"
    if why := _stale():
        return None, why
    try:
        library = ctypes.CDLL(_loaded_libzmq(), mode=os.RTLD_NOLOAD | os.RTLD_LAZY)
        functions = {
            name: ctypes.cast(getattr(library, name), ctypes.c_void_p).value for name in FUNCTIONS
        }
    except (OSError, AttributeError) as exc:
        return None, f"libzmq's functions were not found ({exc})"
    _hot.bind(functions)
    return _hot, ""


MODULE, REASON = _bind()
"""``radio._hot`` bound to libzmq, or None; why not ("" when bound)."""
