"""radio-sub: print the messages of a session, or of the channel's live session, on stdout."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable
from typing import IO, Final

import click
import structlog

from radio import (
    OFF_AIR_AFTER_BEACONS,
    JoinSettings,
    Message,
    SocketOptions,
    Stats,
    Subscriber,
)

from .errors import UsageError, cli_errors
from .logs import LiveLineHandler, configure_logging
from .metrics import metrics_option, serving
from .options import (
    check_client,
    check_endpoint,
    check_reachable,
    check_sessions,
    common_options,
    count_option,
    curve_client,
    curve_client_options,
    seconds_option,
    verbosity,
)

log = structlog.get_logger("radio.cli")

FORMATS: Final = ("raw", "json")
STATUS_EVERY_S: Final[float] = 1.0
"""How often --stats rewrites its status line."""


def format_json(message: Message) -> bytes:
    """One JSON object a line; the payload as UTF-8 text, or base64 when it is not text."""
    record: dict[str, object] = {
        "channel": message.channel,
        "session": message.session,
        "seq": message.seq,
        "sent_at": message.sent_at,
        "ttl": message.ttl,
    }
    try:
        record["payload"] = message.payload.decode("utf-8")
    except UnicodeDecodeError:
        record["payload"] = base64.b64encode(message.payload).decode("ascii")
        record["encoding"] = "base64"
    return json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n"


def format_raw(message: Message) -> bytes:
    """The payload and a newline."""
    return message.payload + b"\n"


class _StatusLine:
    """The --stats line on stderr: counters and the receive rate, about once a second.

    On a terminal it is one line rewritten in place; log lines and the exit end it
    with a newline first (see `LiveLineHandler`). Elsewhere each update is a line.
    """

    def __init__(self, handler: LiveLineHandler) -> None:
        self._handler = handler
        self._last_time = time.monotonic()
        self._last_received = 0

    def update(self, stats: Stats, *, force: bool = False) -> None:
        now = time.monotonic()
        elapsed = now - self._last_time
        if elapsed < STATUS_EVERY_S and not force:
            return
        rate = (stats.received - self._last_received) / elapsed if elapsed > 0 else 0.0
        self._last_time, self._last_received = now, stats.received
        counters = " ".join(
            f"{name}={value:.3f}" if isinstance(value, float) else f"{name}={value}"
            for name, value in stats.as_dict().items()
        )
        line = f"{counters} lost={stats.lost} rate={rate:.0f}/s"
        self._handler.write_live(line)

    def end(self) -> None:
        """End the status line with a newline (at exit)."""
        self._handler.end_live()


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(bind_default=False)
@click.option(
    "-s",
    "--session",
    "sessions",
    multiple=True,
    callback=check_sessions,
    metavar="ID",
    help="Tune in to this session (repeat for several). Excludes --follow.",
)
@click.option(
    "--follow",
    is_flag=True,
    help="Follow the channel's live session, moving to each new one (the default).",
)
@count_option(
    "-n",
    "--count",
    help="Exit after N messages.",
)
@seconds_option(
    "--timeout",
    what="timeout",
    help="Exit (status 0) after SECONDS without a message.",
)
@click.option(
    "-f",
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="raw",
    show_default=True,
    help="raw: the payload and a newline; json: one object a line with every field.",
)
@click.option("--conflate", is_flag=True, help="Keep only the latest message (for live values).")
@click.option("--stats", "show_stats", is_flag=True, help="Show a live status line on stderr.")
@count_option(
    "--off-air-after",
    default=OFF_AIR_AFTER_BEACONS,
    help="Report the publisher off air after N missed beacons.",
)
@click.option(
    "--desk",
    callback=check_endpoint,
    metavar="ENDPOINT",
    help="Ask this session desk for a fresh session (with --client-id) instead of -s/--follow.",
)
@click.option(
    "--client-id",
    callback=check_client,
    metavar="ID",
    help="With --desk: who this subscriber is; a new join ends the client's old session.",
)
@curve_client_options()
@metrics_option()
def command(
    endpoint: str,
    bind: bool,
    channel: str,
    socket: SocketOptions,
    log_format: str,
    quiet: bool,
    verbose: bool,
    sessions: tuple[str, ...],
    follow: bool,
    count: int | None,
    timeout: float | None,
    output_format: str,
    conflate: bool,
    show_stats: bool,
    off_air_after: int,
    desk: str | None,
    client_id: str | None,
    curve_secret: str | None,
    curve_server: str | None,
    metrics: str | None,
) -> None:
    """Print each message heard on a radio channel on stdout (logs go to stderr).

    Without --session, follow the channel's live session. With --session, exit
    once every session given has ended.
    """
    handler = configure_logging(log_format, verbosity(quiet, verbose))
    with cli_errors():
        if sessions and follow:
            raise UsageError("--session and --follow exclude each other")
        if (desk is None) != (client_id is None):
            raise UsageError("--desk and --client-id go together")
        if desk is not None and (sessions or follow):
            raise UsageError("--desk gives the session: no --session or --follow with it")
        if (curve_secret is None) != (curve_server is None):
            raise UsageError("--curve-secret and --curve-server go together")
        if desk is not None:
            check_reachable(desk, bind=False, option="--desk")
        else:
            check_reachable(endpoint, bind=bind)
        security = curve_client(curve_secret, curve_server)
        settings = JoinSettings(
            bind=bind,
            conflate=conflate,
            off_air_after=off_air_after,
            security=security,
            **socket,
        )
        render = format_json if output_format == "json" else format_raw
        out = sys.stdout.buffer
        status = _StatusLine(handler) if show_stats else None
        tally = _Tally()
        sub = (
            Subscriber.join(desk, client_id, **settings)
            if desk is not None and client_id is not None
            else Subscriber(endpoint, channel=channel, **settings)
        )
        try:
            with sub, serving(metrics, sub):  # closing tunes out; read-ahead is `unread`
                _run(
                    sub,
                    sessions,
                    desk,
                    client_id,
                    render,
                    out,
                    count,
                    timeout,
                    status,
                    tally,
                )
        finally:
            stats = sub.stats
            if status is not None:
                status.update(stats, force=True)
                status.end()
            log.info(
                "subscriber_stats",
                printed=tally.printed,
                unread=sub.unread,
                lost=stats.lost,
                **stats.as_dict(),
            )


class _Tally:
    """What radio-sub wrote on stdout, for its exit stats."""

    printed: int = 0


def _run(
    sub: Subscriber,
    sessions: tuple[str, ...],
    desk: str | None,
    client_id: str | None,
    render: Callable[[Message], bytes],
    out: IO[bytes],
    count: int | None,
    timeout: float | None,
    status: _StatusLine | None,
    tally: _Tally,
) -> None:
    """Tune in as asked, then print messages until done; a closed stdout stops quietly."""
    try:
        until_ended: tuple[str, ...] | None = sessions
        if desk is not None:
            # join tuned in to the session the desk gave (gone already if it ended)
            until_ended = tuple(sub.sessions)
            log.info(
                "desk_session",
                client=client_id,
                session=", ".join(until_ended),
                endpoint=sub.endpoint,
            )
        elif sessions:
            for session in sessions:
                sub.tune_in(session)
        else:
            sub.follow()
            until_ended = None
        _print_messages(sub, render, out, until_ended, count, timeout, status, tally)
    except BrokenPipeError:
        _silence_output()


def _print_messages(
    sub: Subscriber,
    render: Callable[[Message], bytes],
    out: IO[bytes],
    until_ended: tuple[str, ...] | None,
    count: int | None,
    timeout: float | None,
    status: _StatusLine | None,
    tally: _Tally,
) -> None:
    """Write each message heard to *out* until *count*, *timeout*, or the sessions end.

    *until_ended* names the sessions tuned in to: stop once all have ended (None
    when following, which never ends).
    """
    printed = 0
    poll = min(timeout, STATUS_EVERY_S) if timeout else STATUS_EVERY_S
    quiet_since = time.monotonic()
    while count is None or printed < count:
        message = sub.recv(timeout=poll)
        if status is not None:
            status.update(sub.stats)
        if message is None:
            if until_ended is not None and not sub.sessions:
                log.info("sessions_ended", sessions=list(until_ended))
                return
            if timeout is not None and time.monotonic() - quiet_since >= timeout:
                log.info("timed_out", timeout=timeout)
                return
            continue
        quiet_since = time.monotonic()
        out.write(render(message))
        out.flush()
        printed += 1
        tally.printed = printed


def _silence_output() -> None:
    """The reader of stdout went away (`radio-sub | head`): stop quietly.

    stderr goes too: with ``2>&1`` it is the same broken pipe.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())


def main() -> None:
    """Entry point of the radio-sub console script."""
    command(prog_name="radio-sub")
