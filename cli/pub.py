"""radio-pub: publish messages, or each line of stdin, on a session of a channel."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Final

import click
import structlog

from radio import (
    BATCH_DELAY_S,
    BEACON_INTERVAL_S,
    DEFAULT_LINGER_S,
    MAX_BEACON_INTERVAL_S,
    MAX_MESSAGE_BYTES,
    MIN_BEACON_INTERVAL_S,
    CurveServer,
    MessageTooLargeError,
    Publisher,
    SocketOptions,
)

from .errors import RuntimeFailure, UsageError, cli_errors
from .logs import configure_logging
from .metrics import metrics_option, serving
from .options import (
    MAX_RATE,
    MIN_RATE,
    check_endpoint,
    check_reachable,
    check_session,
    common_options,
    count_option,
    seconds_option,
    verbosity,
)

log = structlog.get_logger("radio.cli")

SKIP_LOG_EVERY_S: Final[float] = 1.0
"""At most one ``line_skipped`` warning in this many seconds; the others are counted."""


class _Skipped:
    """Counts messages too large to send, warning at most once per `SKIP_LOG_EVERY_S`."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._held = 0
        self._next = 0.0

    def skip(self, size: int) -> None:
        self.count += 1
        now = time.monotonic()
        if now < self._next:
            self._held += 1
            return
        self._next = now + SKIP_LOG_EVERY_S
        log.warning(
            "line_skipped",
            size=size,
            max_message_size=self.limit,
            skipped=self.count,
            suppressed=self._held,
        )
        self._held = 0


def _stdin_lines() -> Iterator[bytes]:
    for line in sys.stdin.buffer:
        yield line.rstrip(b"\r\n")


def _repeated(messages: Iterable[bytes], count: int, from_stdin: bool) -> Iterator[bytes]:
    """Each stdin line *count* times as it comes; the MESSAGE list *count* times over."""
    if from_stdin:
        for line in messages:
            for _ in range(count):
                yield line
        return
    listed = list(messages)
    for _ in range(count):
        yield from listed


class _Pacer:
    """Spaces sends to at most *rate* per second (None: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self._interval = 1.0 / rate if rate else 0.0
        self._next = time.monotonic()

    def wait(self) -> None:
        if not self._interval:
            return
        delay = self._next - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        self._next = max(self._next + self._interval, time.monotonic() - self._interval)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("messages", nargs=-1, metavar="[MESSAGE]...")
@common_options(bind_default=True)
@click.option(
    "-s",
    "--session",
    callback=check_session,
    metavar="ID",
    help="Session to publish on. Default: a new unique ID, logged at start.",
)
@seconds_option(
    "--ttl",
    what="ttl",
    help="Subscribers drop a message older than this. Default: no expiry.",
)
@seconds_option(
    "--wait-for-listener",
    "wait_for",
    what="wait",
    help="Hold the first message until --listeners subscribers have tuned in; fail after SECONDS.",
)
@count_option(
    "--listeners",
    "listeners",
    default=1,
    help="With --wait-for-listener: how many subscribers to wait for.",
)
@seconds_option(
    "--rate",
    what="rate",
    unit="messages per second",
    minimum=MIN_RATE,
    maximum=MAX_RATE,
    metavar="MSGS_PER_S",
    help="Send at most this many messages per second. Default: as fast as possible.",
)
@count_option(
    "--count",
    default=1,
    help="Send the MESSAGEs N times over (each stdin line N times).",
)
@seconds_option(
    "--linger",
    what="linger",
    default=DEFAULT_LINGER_S,
    help="At exit, wait at most this long for sent messages to be flushed.",
)
@seconds_option(
    "--beacon-interval",
    what="beacon interval",
    default=BEACON_INTERVAL_S,
    minimum=MIN_BEACON_INTERVAL_S,
    maximum=MAX_BEACON_INTERVAL_S,
    help="How often subscribers are told which session is live (at most an hour).",
)
@count_option(
    "--batch-size",
    default=1,
    help="Send up to N messages per frame (1: batching off) for more throughput.",
)
@seconds_option(
    "--batch-delay",
    what="batch delay",
    default=BATCH_DELAY_S,
    help="Longest a message waits in a batch.",
)
@click.option(
    "--last-value",
    is_flag=True,
    help="Hand a subscriber that tunes in late the latest message at once (within its TTL).",
)
@click.option(
    "--no-audience",
    is_flag=True,
    help="Send no AUDIENCE frames: observers (radio-top) then see no listener counts.",
)
@click.option(
    "--desk",
    callback=check_endpoint,
    metavar="ENDPOINT",
    help="Serve the session desk here: each client that asks gets a fresh session.",
)
@click.option(
    "--advertise",
    callback=check_endpoint,
    metavar="ENDPOINT",
    help="With --desk: the endpoint clients are told to listen on (default: --endpoint).",
)
@click.option(
    "--curve-secret",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Encrypt with CURVE: this publisher's .key_secret file (see radio-keys).",
)
@click.option(
    "--curve-allow",
    metavar="DIR|*",
    help="With --curve-secret: directory of the client public keys allowed to listen, or '*'.",
)
@metrics_option()
def command(
    messages: tuple[str, ...],
    endpoint: str,
    bind: bool,
    channel: str,
    socket: SocketOptions,
    log_format: str,
    quiet: bool,
    verbose: bool,
    session: str | None,
    ttl: float | None,
    wait_for: float | None,
    listeners: int,
    rate: float | None,
    count: int,
    linger: float,
    beacon_interval: float,
    batch_size: int,
    batch_delay: float,
    last_value: bool,
    no_audience: bool,
    desk: str | None,
    advertise: str | None,
    curve_secret: str | None,
    curve_allow: str | None,
    metrics: str | None,
) -> None:
    """Publish each MESSAGE, or each line of stdin when none is given, on a radio channel.

    The session ends when radio-pub exits: subscribers tuned in to it are told so,
    and followers move to the next session opened on the channel.
    """
    configure_logging(log_format, verbosity(quiet, verbose))
    with cli_errors():
        if (curve_secret is None) != (curve_allow is None):
            raise UsageError("--curve-secret and --curve-allow go together")
        check_reachable(endpoint, bind=bind)
        if desk is not None:
            check_reachable(desk, bind=True, option="--desk")
        security = (
            CurveServer.from_files(curve_secret, curve_allow)
            if curve_secret is not None and curve_allow is not None
            else None
        )
        with (
            Publisher(
                endpoint,
                channel=channel,
                bind=bind,
                beacon_interval=beacon_interval,
                linger=linger,
                batch_size=batch_size,
                batch_delay=batch_delay,
                security=security,
                desk=desk,
                advertise=advertise,
                last_value=last_value,
                audience=not no_audience,
                **socket,
            ) as pub,
            serving(metrics, pub),
        ):
            session = pub.open_session(session)
            if wait_for is not None and not pub.wait_for_listener(
                session, timeout=wait_for, count=listeners
            ):
                raise RuntimeFailure(
                    f"fewer than {listeners} listener(s) tuned in to session {session!r} on "
                    f"channel {channel!r} at {pub.endpoint} within {wait_for:g} s "
                    f"({pub.listeners(session)} did)"
                )
            from_stdin = not messages
            payloads = (
                _stdin_lines()
                if from_stdin
                else (m.encode("utf-8", "surrogateescape") for m in messages)
            )
            pacer = _Pacer(rate)
            max_message_size = socket.get("max_message_size") or MAX_MESSAGE_BYTES
            skipped = _Skipped(max_message_size)
            sent = 0
            for payload in _repeated(payloads, count, from_stdin):
                pacer.wait()
                try:
                    if desk:  # every desk client's session hears each message too
                        pub.send_all(payload, ttl=ttl)
                    else:
                        pub.send(session, payload, ttl=ttl)
                except MessageTooLargeError:  # numbered nothing: subscribers see no gap
                    skipped.skip(len(payload))
                    continue
                sent += 1
            log.info("messages_sent", session=session, count=sent, skipped=skipped.count)
            if skipped.count:
                log.warning("lines_skipped", count=skipped.count, max_message_size=max_message_size)


def main() -> None:
    """Entry point of the radio-pub console script."""
    command(prog_name="radio-pub")
