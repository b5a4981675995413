"""What the tools take from radio's command-line package: logging set-up and errors.

At run time these come from ``radio.cli`` (installed). mypy cannot follow the
``radio.cli = cli`` mapping of setup.cfg through an editable install, so for type
checking the same sources are read as the top-level ``cli`` package, which
``make lint`` checks beside ``tools``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cli.errors import RuntimeFailure
    from cli.logs import configure_logging
else:
    from radio.cli.errors import RuntimeFailure
    from radio.cli.logs import configure_logging

__all__ = ["RuntimeFailure", "configure_logging"]
