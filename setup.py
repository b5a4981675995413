"""Build radio, compiling its cores (mypyc or Cython) and hot loops (Cython) when it can.

setup.cfg holds the metadata; this file only adds the optional extension modules.
Unless ``RADIO_PURE=1`` is set at build time, the socket-free cores (`CORES`, the
modules of ``radio/core/``) are compiled by the compiler ``RADIO_CORES_COMPILER``
names (`DEFAULT_COMPILER`, mypyc, when unset): mypyc makes one shared library
(``radio/_cores__mypyc``) and a shim per module; Cython, from the same ``.py``
sources in its pure-Python mode, one extension module per core. Python imports
either instead of the ``.py`` file beside it. mypyc stays the default because it
measured faster on the simulator and ``SessionState.frame`` (docs/architecture.md:
"Which compiler"). Anything that goes wrong (no mypy or Cython, a compiler error, no C
compiler, a failed compile or link) leaves the pure-Python package, with a warning,
never a failed install. The hot loops (``radio/_hot.pyx``) are compiled with Cython
into ``radio._hot`` on their own: if that fails, the rest is installed and the
drivers stay on pyzmq's paths. The build writes ``radio/_build.txt``: what was
compiled, by which compiler, with a hash of each source, or why nothing was
(`radio.compiled` and `radio.hot` read it).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent

CORES = sorted(
    path.relative_to(ROOT).as_posix()
    for path in (ROOT / "radio" / "core").rglob("*.py")
    if path.name != "__init__.py"
)
"""The socket-free modules compiled: every module of radio/core/ and of its packages, whose
``__init__`` only re-exports (`radio.compiled.CORES`)."""

GROUP = "radio._cores"
"""The shared library's module: inside the package, so it lands wherever radio does."""

NOTE = "_build.txt"
"""Written into the package by every build: ``compiled``, the compiler and a hash per core,
or ``pure: why``."""

COMPILER_VARIABLE = "RADIO_CORES_COMPILER"
"""The environment variable that picks the cores' compiler at build time: cython or mypyc."""

DEFAULT_COMPILER = "mypyc"
"""The cores' compiler when `COMPILER_VARIABLE` is unset: mypyc, measured the faster overall
(``python -m tools.bench.compilers``; the figures are in docs/architecture.md)."""


def _warn(message: str, then: str = "installing pure Python") -> None:
    print(f"radio: {message}; {then}", file=sys.stderr, flush=True)


def _note_compiled(compiler: str) -> str:
    lines = ["compiled", f"compiler {compiler}"]
    for path in CORES:
        digest = hashlib.sha256((ROOT / path).read_bytes()).hexdigest()
        lines.append(f"{path.removeprefix('radio/')} {digest}")
    return "\n".join(lines) + "\n"


def _write_note(text: str, *dirs: Path) -> None:
    for folder in dirs:
        if folder.is_dir():
            (folder / NOTE).write_text(text, encoding="ascii")


def _compiled_cores() -> tuple[list[Any], str]:
    """The extension modules of the cores and the note to write, or none and why not."""
    if os.environ.get("RADIO_PURE", "") not in ("", "0"):
        return [], "pure: RADIO_PURE=1 at build time\n"
    compiler = os.environ.get(COMPILER_VARIABLE, "") or DEFAULT_COMPILER
    if compiler == "cython":
        return _cython_cores()
    if compiler == "mypyc":
        return _mypyc_cores()
    _warn(f"{COMPILER_VARIABLE}={compiler!r} is neither cython nor mypyc")
    return [], f"pure: {COMPILER_VARIABLE}={compiler!r} is neither cython nor mypyc\n"


def _mypyc_cores() -> tuple[list[Any], str]:
    """The cores compiled by mypyc: one shared library and a shim per module."""
    try:
        from mypyc.build import mypycify
    except ImportError as exc:
        _warn(f"mypyc is not available ({exc})")
        return [], f"pure: mypyc is not available ({exc})\n"
    try:
        # Silent: the cores import radio, whose drivers need pyzmq and structlog, which a
        # build environment lacks; only the cores' own type errors stop their compilation.
        modules = mypycify(["--follow-imports=silent", *CORES], group_name=GROUP)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - mypyc exits on type errors
        _warn(f"mypyc could not compile the cores ({exc!r})")
        return [], f"pure: mypyc could not compile the cores ({exc!r})\n"
    return modules, _note_compiled("mypyc")


CYTHON_DIRECTIVES: dict[str, object] = {
    "language_level": 3,
    "binding": False,
    "annotation_typing": True,
    "embedsignature": False,
}
"""How Cython compiles the cores (pure-Python mode: the same .py sources, their annotations
typing the C; bounds and negative indexes checked as in Python)."""


def _cython_cores() -> tuple[list[Any], str]:
    """The cores compiled by Cython from their .py sources: one extension module each."""
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        _warn(f"Cython is not available ({exc})")
        return [], f"pure: Cython is not available ({exc})\n"
    extensions = [Extension(path.removesuffix(".py").replace("/", "."), [path]) for path in CORES]
    try:
        modules = cythonize(
            extensions, compiler_directives=CYTHON_DIRECTIVES, quiet=True, force=True
        )
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a Cython error of any kind
        _warn(f"Cython could not compile the cores ({exc!r})")
        return [], f"pure: Cython could not compile the cores ({exc!r})\n"
    return list(modules), _note_compiled("cython")


_ON_PYZMQ = "the hot loops stay on pyzmq"

HOT = "radio/_hot.pyx"
"""radio's hot loops in C (Cython), built beside the cores: `radio.hot` binds it to libzmq."""


def _hot_loops() -> tuple[list[Any], str]:
    """The Cython extension of the hot loops and its note line, or none and why not."""
    if os.environ.get("RADIO_PURE", "") not in ("", "0"):
        return [], ""
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        _warn(f"Cython is not available ({exc})", then=_ON_PYZMQ)
        return [], f"hot-pure: Cython is not available ({exc})\n"
    try:
        digest = hashlib.sha256((ROOT / HOT).read_bytes()).hexdigest()
        modules = cythonize(
            [Extension("radio._hot", [HOT])], language_level=3, quiet=True, force=True
        )
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a Cython error of any kind
        _warn(f"Cython could not compile the hot loops ({exc!r})", then=_ON_PYZMQ)
        return [], f"hot-pure: Cython could not compile the hot loops ({exc!r})\n"
    return list(modules), f"{HOT.removeprefix('radio/')} {digest}\n"


CORE_EXTENSIONS, CORE_NOTE = _compiled_cores()
HOT_EXTENSIONS, HOT_NOTE = _hot_loops()
EXTENSIONS = CORE_EXTENSIONS + HOT_EXTENSIONS
BUILD_NOTE = CORE_NOTE + HOT_NOTE


def _note_dirs(command: Any, inplace: bool | None = None) -> list[Path]:
    """Where a build command's note goes: its build folder, and the sources when in place.

    *inplace* as it was when the command started: setuptools' build_ext clears its
    own flag while it builds, and leaves it cleared when a build fails.
    """
    dirs = [Path(command.build_lib) / "radio"]
    if inplace is None:
        inplace = bool(getattr(command, "inplace", False))
    if inplace or getattr(command, "editable_mode", False):
        dirs.append(ROOT / "radio")
    return dirs


def _group(ext: Any) -> str:
    """Which part of the build *ext* is: the hot loops, or the cores (all or nothing)."""
    return "hot" if ext.name == "radio._hot" else "cores"


class NotingBuildPy(build_py):
    """build_py that also writes the build note (build_ext rewrites it, if it runs)."""

    def run(self) -> None:
        super().run()
        _write_note(BUILD_NOTE, *_note_dirs(self))


class OptionalBuildExt(build_ext):
    """build_ext that leaves out what fails to compile and says so, never failing itself.

    The hot loops are one module of their own: if they fail, the cores are still
    built, and the reverse. The cores are all or nothing: a shim without its shared
    library (or the reverse) would break ``import radio``, so one failure removes
    every core module this build made. The note says what was left out, and why.
    """

    def run(self) -> None:
        inplace = bool(self.inplace)
        self.failed: dict[str, str] = {}
        try:
            super().run()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - a failure outside one module
            self.failed.setdefault("cores", repr(exc))
            self.failed.setdefault("hot", repr(exc))
        core_note, hot_note = CORE_NOTE, HOT_NOTE
        if "cores" in self.failed and CORE_NOTE.startswith("compiled"):
            _warn(f"compiling the cores failed ({self.failed['cores']})")
            core_note = f"pure: compiling the cores failed ({self.failed['cores']})\n"
        if "hot" in self.failed and HOT_NOTE and not HOT_NOTE.startswith("hot-pure"):
            _warn(f"compiling the hot loops failed ({self.failed['hot']})", then=_ON_PYZMQ)
            hot_note = f"hot-pure: compiling the hot loops failed ({self.failed['hot']})\n"
        for group in self.failed:
            self._remove_outputs(group, inplace)
        _write_note(core_note + hot_note, *_note_dirs(self, inplace))

    def build_extension(self, ext: Any) -> None:
        group = _group(ext)
        if group in self.failed:
            return  # the cores are all or nothing: the rest of them would be removed
        try:
            super().build_extension(ext)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - CompileError, LinkError, ...
            self.failed[group] = repr(exc)

    def copy_extensions_to_source(self) -> None:
        """Copy in place what was built (setuptools' step), never what failed."""
        built = [ext for ext in self.extensions if _group(ext) not in self.failed]
        self.extensions, every = built, self.extensions
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = every

    def _remove_outputs(self, group: str, inplace: bool) -> None:
        for ext in self.extensions:
            if _group(ext) != group:
                continue
            name = self.get_ext_filename(self.get_ext_fullname(ext.name))
            for folder in _note_dirs(self, inplace):  # the build folder, the sources in place
                (folder.parent / name).unlink(missing_ok=True)


if __name__ == "__main__":
    setup(
        ext_modules=EXTENSIONS,
        cmdclass={"build_py": NotingBuildPy, "build_ext": OptionalBuildExt},
    )
