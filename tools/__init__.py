"""radio's developer tools: benchmark, soak, adversity floods and fault harness.

They live in the repository, not in the installed package: run them from a clone
(``make bench``, ``make soak``, ``make adversity``, ``make faults``, or
``python -m tools.bench.main`` and the like from the top folder). Their own
requirements are in ``tools/requirements.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Final

ROOT: Final[Path] = Path(__file__).resolve().parent.parent
"""The clone's top folder, which holds the ``tools`` package."""


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a ``python -m tools.…`` child: this process's, plus *extra*.

    The tools are not installed, so the clone goes first on ``PYTHONPATH``: a child
    imports them whatever its working directory.
    """
    path = os.environ.get("PYTHONPATH", "")
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT) + (os.pathsep + path if path else ""),
        **extra,
    }
