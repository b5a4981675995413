"""Docs that run: every Python and shell example of README.md and docs/*.md is executed.

An example is a fence tagged ``python`` or ``sh`` (``shell``, ``bash``); untagged
fences are synopses, diagrams or output, and ``json`` fences are data. An example
that cannot run alone (two terminals, a remote host, minutes of work) carries
``<!-- not-run: reason -->`` on the line before its fence and is skipped with that
reason. Examples use port 5556: each run gets a free port instead, so that runs
in parallel never collide; shell examples run in a temporary directory with the
installed commands on PATH and ``RADIO_ENDPOINT`` pointing at that port.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest

from tests.helpers import free_tcp_endpoint

ROOT: Final = Path(__file__).resolve().parent.parent
PAGES: Final = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_TIMEOUT_S: Final[float] = 60.0
"""Longest an example may run: each takes a second or two."""

LANGUAGES: Final = {"python": "python", "sh": "sh", "shell": "sh", "bash": "sh"}
_FENCE: Final = re.compile(r"^```(\w*)\s*$")
_NOT_RUN: Final = re.compile(r"^<!--\s*not-run:\s*(.+?)\s*-->$")


@dataclass(frozen=True)
class Example:
    """One fenced example: where it is, its language, its code, why it is not run."""

    page: str
    index: int
    line: int
    language: str
    code: str
    not_run: str | None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def examples(path: Path) -> list[Example]:
    """The tagged examples of the Markdown page at *path*, in order."""
    page = path.relative_to(ROOT).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        start = i
        i += 1
        while i < len(lines) and not lines[i].startswith("```"):
            i += 1
        language = LANGUAGES.get(match.group(1))
        if language is not None:
            before = next((text for text in reversed(lines[:start]) if text.strip()), "")
            marker = _NOT_RUN.match(before.strip())
            index = len(found)
            reason = marker.group(1) if marker else None
            code = "\n".join(lines[start + 1 : i]) + "\n"
            found.append(Example(page, index, start + 1, language, code, reason))
        i += 1
    return found


ALL: Final = [example for page in PAGES for example in examples(page)]


def test_the_pages_have_examples_to_run() -> None:
    """The collector finds the examples (a broken parser would make every test vanish)."""
    assert sum(example.not_run is None for example in ALL) >= 4
    assert {example.language for example in ALL} == {"python", "sh"}


def test_every_marker_names_a_reason() -> None:
    """A not-run marker right before a fence that is no example would hide nothing: refuse it."""
    for page in PAGES:
        lines = page.read_text(encoding="utf-8").splitlines()
        for number, text in enumerate(lines):
            if _NOT_RUN.match(text.strip()):
                after = next((t for t in lines[number + 1 :] if t.strip()), "")
                assert LANGUAGES.get(after.strip().removeprefix("```")), f"{page.name}:{number + 1}"


@pytest.mark.parametrize("example", ALL, ids=[example.id for example in ALL])
def test_example_runs(example: Example, tmp_path: Path) -> None:
    """The example runs to completion, status 0, within `RUN_TIMEOUT_S`."""
    if example.not_run is not None:
        pytest.skip(f"not-run: {example.not_run}")
    endpoint = free_tcp_endpoint()
    port = endpoint.rsplit(":", 1)[1]
    code = example.code.replace("5556", port)
    env = {**os.environ, "RADIO_ENDPOINT": endpoint}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    if example.language == "python":
        command = [sys.executable, "-c", code]
    else:
        command = ["bash", "-euo", "pipefail", "-c", code]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{example.id}\n{result.stdout}\n{result.stderr}"
