"""Compiled cores and their pure-Python twin: which one runs, and RADIO_PURE=1."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import radio
import radio.compiled
from radio.compiled import CORES

ROOT = Path(__file__).resolve().parents[2]
PURE = os.environ.get("RADIO_PURE", "") not in ("", "0")

_REPORT = """
import json, sys
import radio, radio.compiled
import radio.publisher, radio.subscriber, radio.aio, radio.relay
print(json.dumps({
    "active": radio.compiled.ACTIVE,
    "compiled": sorted(
        name for name, module in sys.modules.items()
        if name.startswith("radio") and radio.compiled._is_compiled(module)
    ),
}))
"""


def _report(pure: str) -> dict[str, object]:
    env = {**os.environ, "RADIO_PURE": pure}
    out = subprocess.run(
        [sys.executable, "-c", _REPORT], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, object] = json.loads(out.stdout)
    return result


def test_radio_pure_runs_no_compiled_module() -> None:
    """With RADIO_PURE=1 every radio module, the cores included, runs from its .py source."""
    assert _report("1") == {"active": False, "compiled": []}


def test_the_cores_are_compiled_unless_the_build_fell_back() -> None:
    """In the normal run every core is compiled, unless the build fell back (skipped, why)."""
    if PURE:
        pytest.skip("RADIO_PURE is set: this run is the pure-Python one")
    note = ROOT / "radio" / "_build.txt"
    first = note.read_text(encoding="ascii").splitlines()[0] if note.exists() else ""
    if first.startswith("pure:"):
        pytest.skip(f"the build installed pure Python: {first.removeprefix('pure: ')}")
    assert radio.compiled.ACTIVE, radio.compiled.REASON
    assert all(radio.compiled.MODULES.values())
    compiler = radio.compiled.COMPILER
    assert f"compiler {compiler}" in note.read_text(encoding="ascii").splitlines()
    # mypyc puts the cores in one shared library, which its shims load; Cython makes one
    # extension module per core and nothing else.
    shared = {"mypyc": ["radio._cores__mypyc"], "cython": []}[compiler]
    hot = ["radio._hot"] if radio.compiled.HOT else []
    assert _report("0") == {"active": True, "compiled": sorted([*CORES, *shared, *hot])}
    assert radio.compiled.describe().startswith(f"cores compiled ({compiler});")


def test_the_hot_loops_are_in_c_unless_the_build_fell_back() -> None:
    """In the normal run the hot loops are built and bound, unless the build said why not."""
    if PURE:
        assert not radio.compiled.HOT
        assert radio.compiled.HOT_REASON == "RADIO_PURE is set"
        return
    note = (ROOT / "radio" / "_build.txt").read_text(encoding="ascii").splitlines()
    fell_back = [line for line in note if line.startswith("hot-pure:")]
    if fell_back:
        pytest.skip(f"the build left the hot loops on pyzmq: {fell_back[0]}")
    assert radio.compiled.HOT, radio.compiled.HOT_REASON
    assert radio.compiled.describe().endswith("hot loops in C (Cython)")


def test_this_run_uses_the_twin_it_asked_for() -> None:
    """The modules in this process match RADIO_PURE: all pure under it, never a mix."""
    assert set(radio.compiled.MODULES) == set(CORES)
    if PURE:
        assert not any(radio.compiled.MODULES.values())
    assert len(set(radio.compiled.MODULES.values())) == 1
    assert radio.compiled.ACTIVE is not bool(radio.compiled.REASON)
    assert (radio.compiled.COMPILER in ("cython", "mypyc")) is radio.compiled.ACTIVE


def test_the_cores_are_the_core_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """setup.py compiles, and radio.compiled knows as cores, every module of radio/core/."""
    core = ROOT / "radio" / "core"
    folder = sorted(
        ".".join(("radio", *path.relative_to(core.parent).with_suffix("").parts))
        for path in core.rglob("*.py")
        if path.stem != "__init__"
    )
    assert "radio.core.wire.layout" in folder  # a package's modules are cores too
    assert list(CORES) == folder
    spec = importlib.util.spec_from_file_location("radio_setup", ROOT / "setup.py")
    assert spec is not None
    assert spec.loader is not None
    setup = importlib.util.module_from_spec(spec)
    monkeypatch.setenv("RADIO_PURE", "1")  # compile nothing while reading its list
    spec.loader.exec_module(setup)  # not __main__: defines CORES, runs no setup()
    compiled = [path.removesuffix(".py").replace("/", ".") for path in setup.CORES]
    assert compiled == folder


def test_a_changed_source_is_never_shadowed(tmp_path: Path) -> None:
    """A core whose .py changed since the build runs from source, all cores with it."""
    package = tmp_path / "radio"
    (package / "core").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "core" / "__init__.py").write_text("")
    (package / "compiled.py").write_text((ROOT / "radio" / "compiled.py").read_text())
    note = ["compiled"]
    for name in CORES:  # radio.compiled imports every core: empty stand-ins, as compiled
        source = Path(*name.split(".")[1:]).with_suffix(".py")
        (package / source).parent.mkdir(parents=True, exist_ok=True)
        (package / source.parent / "__init__.py").write_text("")
        (package / source).write_text("")
        note.append(f"{source.as_posix()} {hashlib.sha256(b'').hexdigest()}")
    (package / "_build.txt").write_text("\n".join(note) + "\n")
    edited = package / "core" / "wire" / "layout.py"  # in a package of radio/core/
    edited.write_text("CHANGED = True\n")  # edited since the build
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import radio.compiled as c;"
        "print(c.ACTIVE, c.REASON)"
    )
    env = {**os.environ, "RADIO_PURE": "0"}
    out = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    changed = "core/wire/layout.py changed since it was compiled (run make install)"
    assert out.strip() == f"False {changed}"


def test_the_package_still_imports() -> None:
    """The public API is there whichever twin runs."""
    assert radio.Message._fields == ("channel", "session", "seq", "sent_at", "ttl", "payload")
    assert vars(radio.Stats())["received"] == 0


@pytest.mark.slow
def test_a_build_without_a_working_compiler_installs_and_says_why(tmp_path: Path) -> None:
    """CC=false: setup.py still succeeds, builds no module, and its note says, for the
    cores and for the hot loops, that compiling failed (radio.compiled reads it)."""
    for name in ("radio", "setup.py", "setup.cfg", "pyproject.toml", "README.md"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("*.so", "*.c"))
        else:
            shutil.copy(source, tmp_path / name)
    (tmp_path / "radio" / "_build.txt").unlink(missing_ok=True)
    env = {**os.environ, "CC": "false", "RADIO_PURE": "0"}
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_ext", "--inplace"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    note = (tmp_path / "radio" / "_build.txt").read_text(encoding="ascii").splitlines()
    assert note[0].startswith("pure: compiling the cores failed"), note
    assert any(line.startswith("hot-pure: compiling the hot loops failed") for line in note)
    assert not list((tmp_path / "radio").rglob("*.so"))
    assert "the hot loops stay on pyzmq" in build.stderr


@pytest.mark.parametrize(("line", "compiler"), [("compiler cython", "cython"), (None, "mypyc")])
def test_the_note_names_the_compiler(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str | None, compiler: str
) -> None:
    """The build note's ``compiler`` line says which compiled the cores; none: mypyc's."""
    note = ["compiled", *([line] if line else [])]
    for name in CORES:
        source = Path(*name.split(".")[1:]).with_suffix(".py")
        digest = hashlib.sha256((ROOT / "radio" / source).read_bytes()).hexdigest()
        note.append(f"{source.as_posix()} {digest}")
    (tmp_path / "_build.txt").write_text("\n".join(note) + "\n", encoding="ascii")
    monkeypatch.setenv("RADIO_PURE", "0")
    monkeypatch.setattr(radio.compiled, "_NOTE", tmp_path / "_build.txt")
    monkeypatch.setattr(radio.compiled, "_CORE_DIR", ROOT / "radio" / "core")
    assert radio.compiled._build_note() == (True, "", compiler)
