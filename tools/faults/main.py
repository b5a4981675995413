"""The fault harness (``python -m tools.faults.main``): four hosts, faulty cables, bounds."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from tools.cli import RuntimeFailure, configure_logging

from .catalog import scenarios
from .report import table, write_block
from .suite import run_suite


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--quick", is_flag=True, help="The trimmed run of the test suite (about 90 s).")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write the table into faults.md in this folder (e.g. docs), between its markers.",
)
@click.option(
    "--only",
    multiple=True,
    type=click.Choice([s.name for s in scenarios(quick=False)]),
    help="Run only this scenario (repeatable).",
)
@click.option(
    "--logs",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep every process's stderr here (default: a temporary folder, removed).",
)
def command(quick: bool, out: Path | None, only: tuple[str, ...], logs: Path | None) -> None:
    """Run publisher, relay and subscribers on simulated hosts through cuts, loss and skew."""
    configure_logging("console", verbosity=-1)
    with tempfile.TemporaryDirectory(prefix="radio-faults-") as scratch:
        try:
            suite = run_suite(
                logs or Path(scratch),
                quick=quick,
                only=only,
                progress=lambda s: click.echo(s, err=True),
            )
        except RuntimeError as exc:
            raise RuntimeFailure(str(exc)) from None
    text = table(suite)
    click.echo(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        write_block(out / "faults.md", text)
    if suite.failed():
        raise RuntimeFailure(f"{len(suite.failed())} bounds not met (see the table)")


def main() -> None:
    """Entry point of ``python -m tools.faults.main`` (``make faults``)."""
    command(prog_name="python -m tools.faults.main")


if __name__ == "__main__":
    main()
