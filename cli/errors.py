"""One place that maps radio's errors and signals to exit codes: 2 usage, 1 runtime, 130 Ctrl-C."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final, NoReturn

import click

from radio.errors import InvalidNameError, InvalidSettingError, RadioError

EXIT_INTERRUPTED: Final[int] = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells expect."""

EXIT_TERMINATED: Final[int] = 143
"""Exit code after SIGTERM (128 + SIGTERM)."""


class ExitSignalError(Exception):
    """SIGINT or SIGTERM arrived: unwind, tune out and close, then exit with *code*."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise ExitSignalError(EXIT_TERMINATED)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Run a command body: bad values exit 2, other radio errors 1, signals 130/143.

    The body's own ``with`` blocks close the publisher or subscriber on the way
    out, so a subscriber has tuned out before the process exits.
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except (InvalidNameError, InvalidSettingError) as exc:
        raise click.UsageError(str(exc)) from None
    except RadioError as exc:
        raise click.ClickException(str(exc)) from None
    except KeyboardInterrupt:
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except ExitSignalError as exc:
        raise click.exceptions.Exit(exc.code) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
