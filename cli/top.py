"""radio-top: a live full-screen view of a channel, or one snapshot (--once) for scripts."""

from __future__ import annotations

import contextlib
import curses
import json
import logging
import os
import sys
import time
from typing import Final

import click

from radio import OFF_AIR_AFTER_BEACONS, Observer, SocketOptions, snapshot_dict

from .errors import RuntimeFailure, UsageError, cli_errors
from .logs import configure_logging
from .options import (
    MIN_TICK_S,
    check_reachable,
    common_options,
    count_option,
    curve_client,
    curve_client_options,
    seconds_option,
    verbosity,
)
from .top_text import render

MAX_REFRESH_S: Final[float] = 1.0
"""Longest time between two redraws of the live view."""
KEY_WAIT_S: Final[float] = 0.05
"""Longest a keypress (q) waits to be noticed: the socket is polled this long at a time."""
QUIT_KEYS: Final = frozenset({ord("q"), ord("Q")})


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@common_options(bind_default=False)
@click.option("--once", is_flag=True, help="Print one snapshot as plain text and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --once: print it as JSON.")
@seconds_option(
    "--wait",
    what="wait",
    default=5.0,
    help="With --once: longest wait for every publisher's beacon and audience.",
)
@seconds_option(
    "--refresh",
    what="refresh",
    default=MAX_REFRESH_S,
    minimum=MIN_TICK_S,
    help=f"Time between two redraws of the live view (at most {MAX_REFRESH_S:g}).",
)
@count_option(
    "--off-air-after",
    default=OFF_AIR_AFTER_BEACONS,
    help="Show a publisher off air after N missed beacons.",
)
@curve_client_options()
def command(
    endpoint: str,
    bind: bool,
    channel: str,
    socket: SocketOptions,
    log_format: str,
    quiet: bool,
    verbose: bool,
    once: bool,
    as_json: bool,
    wait: float,
    refresh: float,
    off_air_after: int,
    curve_secret: str | None,
    curve_server: str | None,
) -> None:
    """Watch a radio channel: its publishers, their sessions, listeners and rates.

    radio-top is an observer: it subscribes without presence, so no publisher
    counts it as a listener. Listener counts are the publishers' own (their
    AUDIENCE frames, through relays too); rates, seqs and losses are what this
    viewer hears. q or Ctrl-C quits.
    """
    handler = configure_logging(log_format, verbosity(quiet, verbose))
    if not once:
        handler.setLevel(logging.CRITICAL + 1)  # the live view owns the terminal: no log lines
    with cli_errors():
        if as_json and not once:
            raise UsageError("--json goes with --once")
        if refresh > MAX_REFRESH_S:
            raise UsageError(f"--refresh {refresh:g} is over {MAX_REFRESH_S:g} s")
        check_reachable(endpoint, bind=bind)
        security = curve_client(curve_secret, curve_server)
        if not once and not (sys.stdin.isatty() and sys.stdout.isatty()):
            raise UsageError("the live view needs a terminal: use --once for scripts")
        with Observer(
            endpoint,
            channel=channel,
            bind=bind,
            off_air_after=off_air_after,
            security=security,
            **socket,
        ) as observer:
            if once:
                _once(observer, wait, as_json)
            else:
                curses.use_env(False)  # the terminal's own size, not LINES and COLUMNS
                try:
                    curses.wrapper(_live, observer, refresh)
                except curses.error as exc:  # say, TERM names a terminal with no terminfo
                    raise RuntimeFailure(f"cannot draw on this terminal: {exc}") from None


def _once(observer: Observer, wait: float, as_json: bool) -> None:
    """Listen until every publisher heard has sent a beacon and an audience (or *wait*)."""
    start = time.monotonic()
    deadline = start + wait
    settle = start + min(1.0, wait)  # one second of traffic at least: the rates mean something
    while time.monotonic() < deadline:
        observer.poll(min(0.1, max(deadline - time.monotonic(), 0.0)))
        rows = observer.snapshot().publishers
        if time.monotonic() >= settle and rows and all(r.audience and r.on_air for r in rows):
            break
    snapshot = observer.snapshot()
    if as_json:
        sys.stdout.write(json.dumps({"endpoint": observer.endpoint, **snapshot_dict(snapshot)}))
        sys.stdout.write("\n")
    else:
        sys.stdout.write("\n".join(render(snapshot, observer.endpoint)) + "\n")
    sys.stdout.flush()
    if not snapshot.publishers:
        raise RuntimeFailure(
            f"no publisher heard on channel {observer.channel!r} at {observer.endpoint} "
            f"within {wait:g} s"
        )


def _live(screen: curses.window, observer: Observer, refresh: float) -> None:
    """The full-screen view: redraw every *refresh* seconds and at a resize; q quits."""
    screen.nodelay(True)
    with contextlib.suppress(curses.error):  # a terminal that cannot hide its cursor
        curses.curs_set(0)
    next_draw = 0.0
    while True:
        key = screen.getch()
        if key in QUIT_KEYS:
            return
        if key == curses.KEY_RESIZE or _resized(screen):
            next_draw = 0.0
        now = time.monotonic()
        if now >= next_draw:
            _draw(screen, observer)
            next_draw = now + refresh
        observer.poll(min(KEY_WAIT_S, max(next_draw - time.monotonic(), 0.0)))


def _resized(screen: curses.window) -> bool:
    """Whether the terminal's size changed since ncurses last looked; if so, tell it.

    ncurses learns of a resize from SIGWINCH, and not at all when LINES and COLUMNS
    are set in the environment: the terminal itself is asked (one ioctl).
    """
    try:
        size = os.get_terminal_size(sys.__stdout__.fileno() if sys.__stdout__ else 1)
    except (OSError, ValueError):
        return False
    if (size.lines, size.columns) == screen.getmaxyx():
        return False
    curses.resizeterm(size.lines, size.columns)
    return True


def _draw(screen: curses.window, observer: Observer) -> None:
    """One screen of `render`'s lines, cut to the window's size."""
    rows, cols = screen.getmaxyx()
    screen.erase()
    lines = render(observer.snapshot(), observer.endpoint, max(cols - 1, 1), live=True)
    for index, line in enumerate(lines[:rows]):
        heading = index == 0 or line.startswith("publisher ") or line.lstrip().startswith("SESSION")
        with contextlib.suppress(curses.error):  # it shrank meanwhile: the next draw fits
            screen.addnstr(index, 0, line, max(cols - 1, 0), curses.A_BOLD if heading else 0)
    screen.refresh()


def main() -> None:
    """Entry point of the radio-top console script."""
    command(prog_name="radio-top")
