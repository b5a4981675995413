"""The simulated hosts and the processes in them: publisher, relay, followers, radio-sub.

```
  A (publisher) ──ab── B (radio-relay) ──bc── C (follower, radio-sub)
                                       └─bd── D (follower, radio-sub)
```
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tools import child_env

from .clock import HostClock
from .link import Link, cables
from .logread import events, stats_lines
from .netns import Namespace, namespaces
from .record import Heard, Recorder, run_of, sent_time, stream

PUBLISHER_PORT: Final[int] = 5556
RELAY_PORT: Final[int] = 5557
CHANNEL: Final[str] = "faults"
BIN: Final[Path] = Path(sys.executable).parent
STOP_TIMEOUT_S: Final[float] = 10.0
HOSTS: Final = ("a", "b", "c", "d")
WIRING: Final = (("ab", "a", "b"), ("bc", "b", "c"), ("bd", "b", "d"))


class Proc:
    """A process in a namespace; a thread reads its stdout lines as they come.

    By default each line is a JSON object with an ``event`` field and the last
    of each event is kept (`latest`); *on_line* takes the lines instead.
    """

    def __init__(
        self,
        name: str,
        argv: list[str],
        log: Path,
        on_line: Callable[[str, float], None] | None = None,
        keep: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.log = log
        self._latest: dict[str, dict[str, Any]] = {}
        self._keep = keep
        self.history: list[dict[str, Any]] = []
        """Every line of the events in *keep*, in order."""
        self._changed = threading.Condition()
        self._on_line = on_line
        with log.open("wb") as stderr:
            self.proc = subprocess.Popen(  # noqa: S603 - argv built by the harness
                argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                bufsize=1,
                env=child_env(),
            )
        self._reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self._reader.start()

    def __repr__(self) -> str:
        return f"Proc({self.name!r}, pid={self.proc.pid})"

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            arrived = time.monotonic()
            if self._on_line is not None:
                self._on_line(line, arrived)
                continue
            if not line.startswith("{"):
                continue
            record = json.loads(line)
            with self._changed:
                self._latest[record["event"]] = record
                if record["event"] in self._keep:
                    self.history.append(record)
                self._changed.notify_all()

    def latest(self, event: str) -> dict[str, Any] | None:
        """The last line of *event* the process printed (None if none yet)."""
        with self._changed:
            return self._latest.get(event)

    def wait_for(
        self, event: str, predicate: Callable[[dict[str, Any]], bool], timeout: float
    ) -> dict[str, Any] | None:
        """Wait until the latest *event* line satisfies *predicate*; None at the deadline."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                record = self._latest.get(event)
                if record is not None and predicate(record):
                    return record
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.proc.poll() is not None:
                    return None
                self._changed.wait(remaining)

    def tell(self, command: str) -> None:
        """Write one command line on the process's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def signal(self, signum: int) -> None:
        """Send *signum* to the process if it still runs."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signum)

    def finish(self, timeout: float = STOP_TIMEOUT_S) -> int:
        """Wait for the process to exit (kill it at the deadline); return its exit status."""
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=timeout)
        return self.proc.returncode


class CliSubscriber:
    """A `radio-sub --follow -f json` process; its stdout lines feed a `Recorder` here."""

    def __init__(self, name: str, argv: list[str], log: Path, too_old_s: float | None) -> None:
        self.record = Recorder(too_old_s=too_old_s)
        self._lock = threading.Lock()
        self.proc = Proc(name, argv, log, on_line=self._line)
        self.name = name

    def _line(self, line: str, arrived: float) -> None:
        message = json.loads(line)
        with self._lock:
            payload = message["payload"].encode("ascii")
            key = stream(message["session"], run_of(payload))
            self.record.add(key, message["seq"], sent_time(payload), arrived)

    def last(self) -> dict[str, int]:
        """The last sequence number heard, per session."""
        with self._lock:
            return {name: tally.last for name, tally in self.record.sessions.items()}

    def stop(self) -> Heard:
        """Stop it (it tunes out and logs its stats); return what it heard.

        SIGTERM, which radio-sub handles as it does Ctrl-C: a harness started with
        SIGINT ignored (a script's background job) passes that on to its children.
        """
        self.proc.signal(signal.SIGTERM)
        self.proc.finish()
        stats: dict[str, int] = {}
        for line in self.proc.log.read_text().splitlines():
            if '"subscriber_stats"' in line:
                record = json.loads(line)
                stats = {key: value for key, value in record.items() if isinstance(value, int)}
        snapshots, counted = stats_lines(self.proc.log), events(self.proc.log)
        with self._lock:
            return Heard.parse(self.record.summary(), stats, snapshots, counted)


@dataclass
class Topology:
    """Four hosts and three cables, laid for a whole run; processes come and go per scenario."""

    hosts: dict[str, Namespace]
    links: dict[str, Link]
    logs: Path

    @property
    def publisher_endpoint(self) -> str:
        """Where host A's publisher binds and the relay connects."""
        return f"tcp://{self.links['ab'].address(0)}:{PUBLISHER_PORT}"

    def relay_endpoint(self, host: str) -> str:
        """Where a subscriber on *host* reaches the relay on B."""
        if host == "b":
            return f"tcp://127.0.0.1:{RELAY_PORT}"
        return f"tcp://{self.links['b' + host].address(0)}:{RELAY_PORT}"

    def run(
        self,
        host: str,
        name: str,
        command: list[str],
        clock: HostClock | None = None,
        keep: tuple[str, ...] = (),
    ) -> Proc:
        """Start *command* on *host* (with its wall *clock*); stderr goes to a log file."""
        argv = self.hosts[host].argv(command, clock.env() if clock else None)
        return Proc(name, argv, self.logs / f"{name}.log", keep=keep)

    def publisher(
        self,
        rate: float,
        ttl: float | None,
        *,
        session: str | None = None,
        run: int = 1,
        counter: Path | None = None,
        clock: HostClock | None = None,
    ) -> Proc:
        """Host A's publisher peer (binds; the relay connects to it): run *run* of the scenario."""
        command = [sys.executable, "-m", "tools.faults.publisher"]
        command += [self.publisher_endpoint, CHANNEL, f"{rate:g}", "--run", str(run)]
        command += ["--ttl", f"{ttl:g}"] if ttl else []
        command += ["--session", session] if session is not None else []
        command += ["--counter", str(counter)] if counter is not None else []
        name = "publisher" if run == 1 else f"publisher-{run}"
        return self.run("a", name, command, clock, keep=("status",))

    def relay(self) -> Proc:
        """Host B's radio-relay: frontend connects to A, backend binds for C and D."""
        command = [
            str(BIN / "radio-relay"),
            "--frontend",
            self.publisher_endpoint,
            "--backend",
            f"tcp://0.0.0.0:{RELAY_PORT}",
            "--log-format",
            "json",
        ]
        return self.run("b", "relay", command)

    def follower(
        self, host: str, clock: HostClock | None = None, too_old_s: float | None = None
    ) -> Proc:
        """A library follower on *host*; its ``status`` lines are kept."""
        module = [sys.executable, "-m", "tools.faults.follower"]
        extra = [f"{too_old_s:g}"] if too_old_s is not None else []
        command = [*module, self.relay_endpoint(host), CHANNEL, *extra]
        return self.run(host, f"{host}-lib", command, clock, keep=("status",))

    def radio_sub(
        self,
        host: str,
        clock: HostClock | None = None,
        too_old_s: float | None = None,
        *,
        stats: bool = False,
    ) -> CliSubscriber:
        """`radio-sub --follow -f json` on *host* (with *stats*, ``--stats``: lines in its log)."""
        command = [
            str(BIN / "radio-sub"),
            "-e",
            self.relay_endpoint(host),
            "-c",
            CHANNEL,
            "--follow",
            "-f",
            "json",
            *(["--stats"] if stats else []),
            "--log-format",
            "json",
        ]
        name = f"{host}-cli"
        argv = self.hosts[host].argv(command, clock.env() if clock else None)
        return CliSubscriber(name, argv, self.logs / f"{name}.log", too_old_s)


@contextmanager
def topology(logs: Path, seed: int = 0) -> Iterator[Topology]:
    """Create the four hosts and their cables; everything is removed on exit."""
    logs.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        hosts = stack.enter_context(namespaces(HOSTS))
        specs = [(name, hosts[left], hosts[right]) for name, left, right in WIRING]
        links = stack.enter_context(cables(specs, seed=seed))
        yield Topology(hosts, {link.name: link for link in links}, logs)
