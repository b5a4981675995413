"""radio-keys: create a CURVE key pair for radio-pub or radio-sub."""

from __future__ import annotations

from pathlib import Path

import click

from radio import create_keys, validate_name

from .errors import cli_errors


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("name")
@click.option(
    "-d",
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where NAME.key and NAME.key_secret go.",
)
def command(name: str, directory: Path) -> None:
    """Create NAME.key (public, give it to the other side) and NAME.key_secret (keep it).

    Both files are readable by their owner only, from their first byte; an
    existing file or a symlink in their place is never replaced. A publisher's allow-list is a
    directory holding the .key files of the subscribers allowed to listen.
    """
    with cli_errors():
        validate_name(name, "key")
        public, secret = create_keys(directory, name)  # never overwrites nor follows a link
    click.echo(f"public key: {public}")
    click.echo(f"secret key: {secret}")


def main() -> None:
    """Entry point of the radio-keys console script."""
    command(prog_name="radio-keys")
