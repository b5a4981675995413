"""The soak (``python -m tools.soak.main``): kill, freeze, resume, restart subscribers."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import click

from radio import Publisher, SessionError
from tools import child_env
from tools.cli import RuntimeFailure, configure_logging

CHANNEL: Final[str] = "soak"
BOUNDS_S: Final[dict[str, float]] = {"exit": 1.0, "kill": 1.0, "freeze": 5.0}
"""How soon the publisher must notice each fault (DESIGN.md guarantee 3)."""
MEMORY_BUDGET: Final[int] = 64 * 1024 * 1024
"""Most the publisher may grow while a frozen subscriber misses 1,000,000 messages."""
START_TIMEOUT_S: Final[float] = 20.0
PACED_RATE: Final[float] = 20_000.0
"""Messages per second, across all sessions, in the last third (below subscriber capacity)."""


def _rss() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


@dataclass
class Client:
    """One subscriber process in one session."""

    index: int
    session: str
    proc: subprocess.Popen[str]
    ready: threading.Event = field(default_factory=threading.Event)
    last: dict[str, int] = field(default_factory=dict)
    disturbed: bool = False  # frozen at some point: its gaps are expected, not losses
    calm: bool = False  # started while the broadcast was paced below subscriber capacity
    joined_seq: int = 0  # the session's last seq when the publisher saw it tune in

    def read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("ready"):
                self.ready.set()
            elif line.startswith("{"):
                self.last = json.loads(line)


@dataclass
class Soak:
    """The run's state and what it measured."""

    pub: Publisher
    rng: random.Random
    clients: dict[int, Client] = field(default_factory=dict)
    detect: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in BOUNDS_S})
    join: list[float] = field(default_factory=list)
    finished: list[Client] = field(default_factory=list)
    generation: int = 0
    sent: int = 0
    paced: bool = False  # the last phase: broadcast below what subscribers can take

    def start(self, index: int) -> Client:
        self.generation += 1
        session = self.pub.open_session(f"client-{index}-{self.generation}")
        proc = subprocess.Popen(  # noqa: S603 - this interpreter, radio's own module
            [sys.executable, "-m", "tools.soak.peer", self.pub.endpoint, CHANNEL, session],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=child_env(),
        )
        client = Client(index, session, proc)
        threading.Thread(target=client.read, daemon=True).start()
        started = time.monotonic()
        if not client.ready.wait(START_TIMEOUT_S) or not self.pub.wait_for_listener(
            session, timeout=START_TIMEOUT_S
        ):
            raise RuntimeFailure(f"subscriber {session} never tuned in")
        self.join.append(time.monotonic() - started)
        client.joined_seq = self.pub.last_seq(session)
        client.calm = self.paced
        self.clients[index] = client
        return client

    def noticed(self, client: Client, fault: str, since: float) -> None:
        deadline = since + 30.0
        while self.pub.listeners(client.session) and time.monotonic() < deadline:
            time.sleep(0.005)
        self.detect[fault].append(time.monotonic() - since)

    def retire(self, client: Client) -> None:
        if client.proc.poll() is None:
            client.proc.kill()
        client.proc.wait()
        self.finished.append(client)
        with contextlib.suppress(SessionError):
            self.pub.close_session(client.session)

    def fault(self) -> None:
        index = self.rng.choice(sorted(self.clients))
        client = self.clients[index]
        fault = self.rng.choice(["kill", "exit", "freeze", "restart"])
        since = time.monotonic()
        if fault == "freeze":
            client.disturbed = True
            os.kill(client.proc.pid, signal.SIGSTOP)
            self.noticed(client, "freeze", since)
            os.kill(client.proc.pid, signal.SIGCONT)  # resumed: it reconnects, same session
            return
        os.kill(client.proc.pid, signal.SIGKILL if fault == "kill" else signal.SIGINT)
        self.noticed(client, "kill" if fault == "kill" else "exit", since)
        self.retire(client)
        self.start(index)  # back in a new session


def _broadcast(soak: Soak, stop: threading.Event, paced_rate: float) -> None:
    """Send 100-message rounds to every session: flat out, then paced at *paced_rate*."""
    payload = b"x" * 100
    send = soak.pub.send
    paced_since = 0.0
    paced_sent = 0
    while not stop.is_set():
        if soak.paced:
            paced_since = paced_since or time.monotonic()
            due = (time.monotonic() - paced_since) * paced_rate
            if paced_sent > due:
                time.sleep(0.001)
                continue
        for client in list(soak.clients.values()):
            try:
                for _ in range(100):
                    send(client.session, payload)
                soak.sent += 100
                paced_sent += 100 if soak.paced else 0
            except SessionError:
                continue  # closed by a fault a moment ago


def _memory_phase(pub: Publisher, count: int) -> tuple[int, int]:
    """Publisher growth while one frozen subscriber misses *count* messages."""
    session = pub.open_session("frozen")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tools.soak.peer", pub.endpoint, CHANNEL, session],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=child_env(),
    )
    try:
        assert proc.stdout is not None
        proc.stdout.readline()
        if not pub.wait_for_listener(session, timeout=START_TIMEOUT_S):
            raise RuntimeFailure("the frozen subscriber never tuned in")
        os.kill(proc.pid, signal.SIGSTOP)
        payload = b"x" * 100
        for _ in range(min(count, 20_000)):  # fill every queue on the way first
            pub.send(session, payload)
        before = _rss()
        for _ in range(count):
            pub.send(session, payload)
        return before, _rss()
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.kill()
        proc.wait()


def _report(
    soak: Soak, seconds: float, memory: tuple[int, int], count: int, paced_rate: float
) -> tuple[str, bool]:
    stale = sum(c.last.get("stale", 0) for c in soak.finished)
    calm = [c for c in soak.finished if c.calm and not c.disturbed and c.last.get("received")]
    # every message sent after the publisher saw the client tune in must have arrived
    lost = sum(
        c.last.get("gaps", 0) + max(0, c.last.get("first_seq", 0) - c.joined_seq - 1) for c in calm
    )
    calm_heard = sum(c.last.get("received", 0) for c in calm)
    expected_gaps = sum(c.last.get("gaps", 0) for c in soak.finished if not c.calm or c.disturbed)
    received = sum(c.last.get("received", 0) for c in soak.finished)
    growth = memory[1] - memory[0]
    ok = stale == 0 and lost == 0 and bool(calm) and growth <= MEMORY_BUDGET
    rows = []
    for fault, times in soak.detect.items():
        if times:
            worst = max(times)
            ok = ok and worst <= BOUNDS_S[fault]
            rows.append(
                f"| {fault} | {len(times)} | {statistics.median(times) * 1000:,.0f} ms |"
                f" {worst * 1000:,.0f} ms | <= {BOUNDS_S[fault]:g} s |"
                f" {'yes' if worst <= BOUNDS_S[fault] else '**no**'} |"
            )
        else:
            rows.append(f"| {fault} | 0 | - | - | <= {BOUNDS_S[fault]:g} s | not exercised |")
    lines = [
        "# Reliability",
        "",
        "Generated by `make soak` (`python -m tools.soak.main`) on "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M UTC}; every figure comes from that run.",
        "",
        f"One publisher broadcast for {seconds:.0f} s to {len(soak.clients)} subscriber"
        " processes, each tuned in to its own session: at full speed for the first two thirds"
        f" (far more than Python subscribers on this machine take, so they are overloaded and"
        f" ZeroMQ drops at the high-water mark), then paced at {paced_rate:,.0f} msg/s, below"
        " what they take. All along, one subscriber at random was killed (SIGKILL), stopped"
        " cleanly (SIGINT), frozen (SIGSTOP, then resumed) or restarted; a killed or stopped"
        " one came back in a new session, as a client of the session desk would. Losses are"
        " checked for the subscribers started in the paced third and never frozen: every"
        " message sent after the publisher saw them tune in must arrive. Default settings:"
        " heartbeats every 0.5 s, 2 s timeout, HWM 1000.",
        "",
        "Network faults between hosts (silent partitions, packet loss, clock skew) are"
        " measured by the [fault harness](faults.md) (`make faults`).",
        "",
        "| check | result |",
        "|---|---|",
        f"| messages broadcast | {soak.sent:,} ({soak.sent / seconds:,.0f}/s) |",
        f"| messages heard by subscribers | {received:,} |",
        f"| subscriber generations | {len(soak.finished)} |",
        f"| stale messages delivered (must be 0) | {stale} |",
        f"| new-session messages lost while tuned in and not overloaded (must be 0) | {lost}"
        f" (of {calm_heard:,} heard by {len(calm)} subscribers) |",
        f"| messages dropped at the HWM while overloaded or frozen (counted as gaps) |"
        f" {expected_gaps:,} |",
        f"| publisher growth, frozen subscriber, {count:,} messages (<= 64 MiB) |"
        f" {growth / 2**20:+.1f} MiB |",
        f"| time for a new subscriber to be seen tuned in (median / max) |"
        f" {statistics.median(soak.join) * 1000:,.0f} / {max(soak.join) * 1000:,.0f} ms |",
        "",
        "## Presence: how soon the publisher noticed",
        "",
        "| fault | times | median | max | bound | met |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"Verdict: {'all checks passed' if ok else 'SOME CHECKS FAILED'}.",
        "",
    ]
    return "\n".join(lines), ok


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--duration",
    type=float,
    default=90.0,
    show_default=True,
    metavar="SECONDS",
    help="How long faults are injected.",
)
@click.option("--subscribers", type=click.IntRange(1, 20), default=4, show_default=True)
@click.option(
    "--memory-messages",
    type=int,
    default=1_000_000,
    show_default=True,
    help="Messages sent to a frozen subscriber in the memory check.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the faults.")
@click.option("--quick", is_flag=True, help="A short run for the test suite.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write reliability.md here (e.g. docs).",
)
def command(
    duration: float,
    subscribers: int,
    memory_messages: int,
    seed: int,
    quick: bool,
    out: Path | None,
) -> None:
    """Inject faults while broadcasting; check no stale or lost message, flat memory, presence."""
    configure_logging("console", verbosity=-1)
    if quick:
        duration, subscribers, memory_messages = min(duration, 6.0), 2, 100_000
    with Publisher("tcp://127.0.0.1:*", channel=CHANNEL) as pub:
        soak = Soak(pub, random.Random(seed))
        for index in range(subscribers):
            soak.start(index)
        stop = threading.Event()
        broadcaster = threading.Thread(
            target=_broadcast, args=(soak, stop, PACED_RATE), daemon=True
        )
        started = time.monotonic()
        broadcaster.start()
        try:
            while time.monotonic() - started < duration:
                if not soak.paced and time.monotonic() - started > duration * 2 / 3:
                    soak.paced = True
                    for index, client in list(soak.clients.items()):
                        soak.retire(client)  # everyone starts over in a calm session
                        soak.start(index)
                soak.fault()
                time.sleep(soak.rng.uniform(0.2, 0.8))  # between faults, the broadcast goes on
        finally:
            stop.set()
            broadcaster.join()
        seconds = time.monotonic() - started
        time.sleep(0.5)  # let the survivors report their last counts
        for client in list(soak.clients.values()):
            soak.retire(client)
        memory = _memory_phase(pub, memory_messages)
    text, ok = _report(soak, seconds, memory, memory_messages, PACED_RATE)
    click.echo(text)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "reliability.md").write_text(text)
    if not ok:
        raise RuntimeFailure("the soak found a broken guarantee (see above)")


def main() -> None:
    """Entry point of ``python -m tools.soak.main`` (``make soak``)."""
    command(prog_name="python -m tools.soak.main")


if __name__ == "__main__":
    main()
