"""The CLI's one error boundary: radio's errors and signals to exit statuses (`ExitStatus`)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from types import FrameType
from typing import Final, NoReturn

import click

from radio import InvalidNameError, InvalidSettingError, RadioError


class ExitStatus(IntEnum):
    """How a radio command ends, as the shell sees it."""

    OK = 0
    """Done: everything sent, --count reached, --timeout passed, or the sessions ended."""
    RUNTIME = 1
    """A runtime error: cannot bind, no listener in time, the desk refused..."""
    USAGE = 2
    """A bad value or a bad combination of options, named in one line."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT), after tuning out, as shells expect."""
    TERMINATED = 143
    """SIGTERM (128 + SIGTERM), after tuning out."""


USAGE_ERRORS: Final = (InvalidNameError, InvalidSettingError)
"""radio's errors that mean the user gave a bad value: they exit `ExitStatus.USAGE`."""


class UsageError(click.UsageError):
    """A bad value or a bad combination of options: exits `ExitStatus.USAGE`."""

    exit_code = ExitStatus.USAGE


class RuntimeFailure(click.ClickException):
    """The command could not do its job: exits `ExitStatus.RUNTIME` with the reason."""

    exit_code = ExitStatus.RUNTIME


class ExitSignalError(Exception):
    """SIGTERM arrived: unwind, tune out and close, then exit with *status*."""

    def __init__(self, status: ExitStatus) -> None:
        super().__init__(status)
        self.status = status


def _on_sigterm(signum: int, frame: FrameType | None) -> NoReturn:
    raise ExitSignalError(ExitStatus.TERMINATED)


@contextmanager
def cli_errors() -> Iterator[None]:
    """Run a command body: bad values exit USAGE, other radio errors RUNTIME, signals 130/143.

    Each command runs its whole body inside this one boundary. The body's own
    ``with`` blocks close the publisher or subscriber on the way out, so a
    subscriber has tuned out before the process exits. click's own exceptions
    (`UsageError`, `RuntimeFailure`) pass through with their status.
    """
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    except USAGE_ERRORS as exc:
        raise UsageError(str(exc)) from None
    except RadioError as exc:
        raise RuntimeFailure(str(exc)) from None
    except KeyboardInterrupt:
        raise click.exceptions.Exit(ExitStatus.INTERRUPTED) from None
    except ExitSignalError as exc:
        raise click.exceptions.Exit(exc.status) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
