"""radio-relay: forward a radio channel between two endpoints (ZeroMQ's own proxy)."""

from __future__ import annotations

import signal

import click

from radio import REPORT_INTERVAL_S, CurveServer, Relay, SocketOptions

from .errors import UsageError, cli_errors
from .logs import configure_logging
from .metrics import metrics_option, serving
from .options import (
    MIN_TICK_S,
    check_endpoint,
    check_reachable,
    curve_client,
    log_options,
    seconds_option,
    socket_options,
    verbosity,
)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--frontend",
    required=True,
    callback=check_endpoint,
    metavar="ENDPOINT",
    help="Where publishers (or an upstream relay) reach this relay.",
)
@click.option(
    "--backend",
    required=True,
    callback=check_endpoint,
    metavar="ENDPOINT",
    help="Where subscribers (or a downstream relay) reach this relay.",
)
@click.option(
    "--frontend-bind/--frontend-connect",
    default=False,
    show_default=True,
    help="Bind the frontend, or connect it to a publisher (the default).",
)
@click.option(
    "--backend-bind/--backend-connect",
    default=True,
    show_default=True,
    help="Bind the backend (the default), or connect it downstream.",
)
@seconds_option(
    "--report-interval",
    what="report interval",
    default=REPORT_INTERVAL_S,
    minimum=MIN_TICK_S,
    help="How often throughput and subscriber count are logged.",
)
@click.option(
    "--frontend-curve-secret",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="CURVE upstream: this relay's .key_secret file.",
)
@click.option(
    "--frontend-curve-server",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="CURVE upstream: the publisher's (or upstream relay's) public .key file.",
)
@click.option(
    "--backend-curve-secret",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="CURVE downstream: this relay's .key_secret file.",
)
@click.option(
    "--backend-curve-allow",
    metavar="DIR|*",
    help="CURVE downstream: directory of the subscriber keys allowed, or '*'.",
)
@metrics_option()
@socket_options()
@log_options()
def command(
    frontend: str,
    backend: str,
    frontend_bind: bool,
    backend_bind: bool,
    socket: SocketOptions,
    report_interval: float,
    frontend_curve_secret: str | None,
    frontend_curve_server: str | None,
    backend_curve_secret: str | None,
    backend_curve_allow: str | None,
    metrics: str | None,
    log_format: str,
    quiet: bool,
    verbose: bool,
) -> None:
    """Forward messages from --frontend to --backend and subscriptions back, until stopped.

    Relays chain into trees across hosts; listener counts and the no-stale
    guarantee hold end to end. Logs relay_stats (throughput, subscribers) on stderr.
    """
    configure_logging(log_format, verbosity(quiet, verbose))
    with cli_errors():
        upstream = curve_client(frontend_curve_secret, frontend_curve_server, "--frontend-curve")
        if (backend_curve_secret is None) != (backend_curve_allow is None):
            raise UsageError("--backend-curve-secret and --backend-curve-allow go together")
        check_reachable(frontend, bind=frontend_bind, option="--frontend")
        check_reachable(backend, bind=backend_bind, option="--backend")
        downstream = (
            CurveServer.from_files(backend_curve_secret, backend_curve_allow)
            if backend_curve_secret is not None and backend_curve_allow is not None
            else None
        )
        with (
            Relay(
                frontend,
                backend,
                frontend_bind=frontend_bind,
                backend_bind=backend_bind,
                report_interval=report_interval,
                frontend_security=upstream,
                backend_security=downstream,
                **socket,
            ) as relay,
            serving(metrics, relay),
        ):
            signal.pause()  # until Ctrl-C or SIGTERM: cli_errors maps them to their ExitStatus


def main() -> None:
    """Entry point of the radio-relay console script."""
    command(prog_name="radio-relay")
