"""radio-demo: the stale-message story played live on loopback, naive ZeroMQ beside radio."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import click
import zmq

from radio import Publisher

from .errors import ExitStatus, RuntimeFailure, cli_errors
from .logs import configure_logging

FIRST: Final[int] = 100
"""Messages the listener hears in the first session."""
WHILE_AWAY: Final[int] = 500
"""Messages the server broadcasts while the listener is gone."""
SECOND: Final[int] = 100
"""Messages of the second session."""
DEADLINE_S: Final[float] = 15.0
"""Longest any step of the demo may wait."""
DEADLINE_MS: Final[int] = int(DEADLINE_S * 1000)


@dataclass
class Outcome:
    """What one half of the demo saw."""

    heard_first: int = 0
    stale: int = 0
    heard_second: int = 0
    leave_noticed_s: float | None = None
    return_noticed_s: float | None = None
    counters: dict[str, int] = field(default_factory=dict)


def _free_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def _say(text: str) -> None:
    click.echo(text)


def _deadline_passed(start: float) -> bool:
    return time.monotonic() - start > DEADLINE_S


def _bind_retrying(sock: zmq.Socket[bytes], endpoint: str) -> None:
    start = time.monotonic()
    while True:
        try:
            sock.bind(endpoint)
            return
        except zmq.ZMQError as exc:  # the old listener's port is still closing
            if exc.errno != zmq.EADDRINUSE or _deadline_passed(start):
                raise
            time.sleep(0.01)


def naive() -> Outcome:
    """PUSH connects to a PULL that goes away and comes back at the same address."""
    outcome = Outcome()
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    endpoint = _free_endpoint()
    listener = ctx.socket(zmq.PULL)
    _bind_retrying(listener, endpoint)
    server = ctx.socket(zmq.PUSH)
    monitor = server.get_monitor_socket(zmq.EVENT_DISCONNECTED)
    server.connect(endpoint)
    for i in range(FIRST):
        server.send(b"session-1 %d" % i)
    while outcome.heard_first < FIRST and listener.poll(DEADLINE_MS):
        listener.recv()
        outcome.heard_first += 1
    _say(f"  session 1: the listener heard {outcome.heard_first} messages")
    listener.close(linger=0)
    monitor.poll(DEADLINE_MS)  # libzmq's I/O thread noticed; the application cannot
    server.disable_monitor()
    monitor.close(linger=0)
    for i in range(WHILE_AWAY):
        server.send(b"session-1 %d" % (FIRST + i), zmq.NOBLOCK)
    _say(f"  the listener went away; the server kept sending {WHILE_AWAY} messages")
    listener = ctx.socket(zmq.PULL)
    _bind_retrying(listener, endpoint)
    for i in range(SECOND):
        server.send(b"session-2 %d" % i)
    while outcome.heard_second < SECOND and listener.poll(DEADLINE_MS):
        if listener.recv().startswith(b"session-1"):
            outcome.stale += 1
        else:
            outcome.heard_second += 1
    _say(
        f"  session 2: the new listener heard {outcome.stale} stale messages of session 1 "
        f"before its {outcome.heard_second} own"
    )
    listener.close(linger=0)
    server.close(linger=0)
    return outcome


class Listener:
    """radio-sub in its own process, following the channel, JSON on stdout."""

    def __init__(self, endpoint: str) -> None:
        command = Path(sys.executable).parent / "radio-sub"
        self.proc = subprocess.Popen(  # noqa: S603 - our own installed radio-sub
            [
                str(command),
                "-e",
                endpoint,
                "--bind",
                "-c",
                "demo",
                "--follow",
                "-f",
                "json",
                "--log-format",
                "json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONFAULTHANDLER": "1"},  # SIGABRT: every thread's stack
        )

    def read(self, count: int) -> list[dict[str, object]]:
        assert self.proc.stdout is not None
        return [json.loads(self.proc.stdout.readline()) for _ in range(count)]

    def counters(self) -> dict[str, int]:
        """Stop it with SIGTERM and return the counters it logged as it tuned out.

        Not Ctrl-C: a process started with SIGINT ignored (a background job of a
        script, as CI may run us) passes that on, and radio-sub rightly keeps it.
        """
        self.proc.send_signal(signal.SIGTERM)
        try:
            _, err = self.proc.communicate(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:  # a bug: say where it stood, every thread
            self.proc.send_signal(signal.SIGABRT)
            _, err = self.proc.communicate(timeout=DEADLINE_S)
            raise RuntimeFailure(
                f"radio-sub did not stop within {DEADLINE_S:g} s of SIGTERM; its stderr:\n"
                + err[-6000:]
            ) from None
        for line in err.splitlines():
            if '"subscriber_stats"' in line:
                record = json.loads(line)
                return {
                    k: record[k] for k in ("received", "gaps", "expired", "fenced", "malformed")
                }
        return {}


def radio_half() -> Outcome:
    """The same story with radio: the publisher connects, the listener is radio-sub."""
    outcome = Outcome()
    endpoint = _free_endpoint()
    listener = Listener(endpoint)
    with Publisher(endpoint, channel="demo", bind=False) as pub:
        first = pub.open_session()
        if not pub.wait_for_listener(first, timeout=DEADLINE_S):
            raise RuntimeFailure("radio-sub never tuned in")
        for i in range(FIRST):
            pub.send(first, b"session-1 %d" % i)
        outcome.heard_first = len(listener.read(FIRST))
        _say(f"  session 1 ({first}): radio-sub heard {outcome.heard_first} messages")
        listener.proc.kill()
        listener.proc.wait()
        left = time.monotonic()
        for i in range(WHILE_AWAY):
            pub.send(first, b"session-1 %d" % (FIRST + i))
            if outcome.leave_noticed_s is None and pub.listeners(first) == 0:
                outcome.leave_noticed_s = time.monotonic() - left
            time.sleep(0.001)  # a steady broadcast, about 1k messages/s
        _say(
            f"  radio-sub was killed (SIGKILL); the publisher kept broadcasting {WHILE_AWAY} "
            "messages"
        )
        pub.close_session(first)
        second = pub.open_session()
        back = time.monotonic()
        listener = Listener(endpoint)
        if not pub.wait_for_listener(second, timeout=DEADLINE_S):
            raise RuntimeFailure("the second radio-sub never tuned in")
        outcome.return_noticed_s = time.monotonic() - back
        for i in range(SECOND):
            pub.send(second, b"session-2 %d" % i)
        for record in listener.read(SECOND):
            if record["session"] == second:
                outcome.heard_second += 1
            else:
                outcome.stale += 1
        outcome.counters = listener.counters()
        _say(
            f"  session 2 ({second}): a new radio-sub heard {outcome.stale} stale messages and "
            f"{outcome.heard_second} of its own"
        )
    return outcome


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"after {value * 1000:.0f} ms"


def report(naive_outcome: Outcome, radio_outcome: Outcome) -> None:
    """Print the side-by-side table."""
    rows = [
        ("session-1 messages heard in session 2 (stale)", naive_outcome.stale, radio_outcome.stale),
        (
            f"session-2 messages heard (of {SECOND})",
            naive_outcome.heard_second,
            radio_outcome.heard_second,
        ),
        (
            "server noticed the listener leave",
            "cannot tell",
            _seconds(radio_outcome.leave_noticed_s),
        ),
        (
            "server saw the new listener tune in",
            "cannot tell",
            _seconds(radio_outcome.return_noticed_s),
        ),
    ]
    width = max(len(r[0]) for r in rows)
    _say("")
    _say(f"{'':{width}}  {'naive PUSH/PULL':>16}  {'radio':>14}")
    for label, left, right in rows:
        _say(f"{label:{width}}  {left!s:>16}  {right!s:>14}")
    counters = " ".join(f"{k}={v}" for k, v in radio_outcome.counters.items())
    _say(f"\nradio-sub's own counters in session 2: {counters or 'not reported'}")
    _say(
        "(fenced: other-session messages it refused; expired: past their TTL; gaps: lost at "
        "the high-water mark; malformed: junk)"
    )


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def command() -> None:
    """Play the stale-message story on loopback: naive PUSH/PULL beside radio."""
    configure_logging("console", verbosity=-1)
    _say("The story: a server streams to a listener, the listener goes away, the server")
    _say("keeps sending, a new session starts and the listener comes back.\n")
    _say("1. naive ZeroMQ (PUSH connects to the listener's address)")
    with cli_errors():
        naive_outcome = naive()
        _say("\n2. radio (the publisher connects to radio-sub's address, the same topology)")
        radio_outcome = radio_half()
    report(naive_outcome, radio_outcome)
    ok = radio_outcome.stale == 0 and radio_outcome.heard_second == SECOND
    _say("\nradio delivered no stale message and every new one." if ok else "\nUNEXPECTED RESULT")
    if not ok:
        raise click.exceptions.Exit(ExitStatus.RUNTIME)


def main() -> None:
    """Entry point of the radio-demo console script."""
    command(prog_name="radio-demo")
