"""Which of radio's pure cores run compiled (Cython or mypyc) now; ``RADIO_PURE=1`` runs none.

The cores are the modules of ``radio/core/`` (`CORES`, read off the folder). The
build (setup.py) may compile them, with Cython or mypyc (``RADIO_CORES_COMPILER``),
into extension modules beside their ``.py`` sources, which Python then imports instead,
and notes in ``_build.txt`` what it compiled, with which compiler and a hash of each source. The
compiled modules are used only when all of them can be: ``RADIO_PURE`` is unset (or
``0``) and every core's source is the one compiled (an edited ``.py`` in a
development tree is never shadowed by a stale build). Otherwise a finder placed
first on `sys.meta_path` imports every core from its ``.py`` source, all of them
together, since compiled cores call each other directly. radio's ``__init__``
imports this module before any core.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Final

_PACKAGE: Final = Path(__file__).resolve().parent
_CORE_DIR: Final = _PACKAGE / "core"
_NOTE: Final = _PACKAGE / "_build.txt"

CORES: Final = tuple(
    sorted(
        {
            ".".join(("radio.core", *path.relative_to(_CORE_DIR).parent.parts, leaf))
            for path in _CORE_DIR.rglob("*")
            if path.name.endswith((".py", *importlib.machinery.EXTENSION_SUFFIXES))
            and (leaf := path.name.partition(".")[0]) != "__init__"
        }
    )
)
"""The modules the build compiles when it can: every module of ``radio/core/`` and of its
packages (whose ``__init__`` only re-exports)."""


def _source(name: str) -> Path:
    """The ``.py`` source of core *name*."""
    return _CORE_DIR.joinpath(*name.split(".")[2:]).with_suffix(".py")


def _build_note() -> tuple[bool, str, str]:
    """Whether the compiled cores may be used, why not when they may not, and the compiler."""
    if os.environ.get("RADIO_PURE", "") not in ("", "0"):
        return False, "RADIO_PURE is set", ""
    try:
        lines = _NOTE.read_text(encoding="ascii").splitlines()
    except OSError:
        return False, "no build note (radio/_build.txt): built without setup.py", ""
    if not lines or lines[0] != "compiled":
        why = (lines or ["?"])[0].removeprefix("pure: ")
        return False, f"the build installed pure Python ({why})", ""
    hashes = dict(line.split(" ", 1) for line in lines[1:])
    compiler = hashes.get("compiler", "mypyc")  # a note without the line is mypyc's
    for name in CORES:
        source = _source(name)
        try:
            digest = hashlib.sha256(source.read_bytes()).hexdigest()
        except OSError:
            continue  # no source beside the compiled module: nothing to prefer
        key = source.relative_to(_PACKAGE).as_posix()
        if hashes.get(key) != digest:
            why = f"{key} changed since it was compiled (run make install)"
            return False, why, compiler
    return True, "", compiler


class _SourceFirst(importlib.abc.MetaPathFinder):
    """A meta-path finder that imports each core from its ``.py`` source."""

    def find_spec(
        self, name: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        """The spec of core *name* from its source in the package's *path*; None otherwise."""
        if name not in CORES:
            return None
        leaf = name.rpartition(".")[2] + ".py"
        for folder in path or ():
            source = os.path.join(folder, leaf)
            if os.path.isfile(source):
                loader = importlib.machinery.SourceFileLoader(name, source)
                return importlib.util.spec_from_file_location(name, source, loader=loader)
        return None


def _is_compiled(module: ModuleType) -> bool:
    """Whether *module* was loaded from an extension module (``.so``, ``.pyd``)."""
    return str(getattr(module, "__file__", None) or "").endswith(
        tuple(importlib.machinery.EXTENSION_SUFFIXES)
    )


_usable, _why, _compiler = _build_note()
if not _usable and not any(isinstance(finder, _SourceFirst) for finder in sys.meta_path):
    sys.meta_path.insert(0, _SourceFirst())

MODULES: Final[dict[str, bool]] = {
    name: _is_compiled(importlib.import_module(name)) for name in CORES
}
"""Each core module and whether the one in use is compiled."""

ACTIVE: Final[bool] = all(MODULES.values())
"""Whether the compiled cores are in use (all of them: they are never mixed)."""

REASON: Final[str] = (
    "" if ACTIVE else _why or "no compiled modules beside the sources (a pure build)"
)
"""Why the cores run as pure Python ("" when they are compiled)."""

COMPILER: Final[str] = _compiler if ACTIVE else ""
"""What compiled the cores in use: ``cython`` or ``mypyc`` ("" when they run as pure Python)."""

from radio import hot as _hot  # noqa: E402 - after the cores: the hot loops, bound to libzmq

HOT: Final[bool] = _hot.MODULE is not None
"""Whether radio's hot loops (send, read) run in C (``radio._hot``) rather than on pyzmq."""

HOT_REASON: Final[str] = _hot.REASON
"""Why the hot loops run on pyzmq ("" when they run in C)."""


def describe() -> str:
    """One line for a report: what runs compiled, and why not what does not."""
    cores = f"cores compiled ({COMPILER})" if ACTIVE else f"cores pure Python ({REASON})"
    loops = "hot loops in C (Cython)" if HOT else f"hot loops on pyzmq ({HOT_REASON})"
    return f"{cores}; {loops}"
