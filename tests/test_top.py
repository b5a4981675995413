"""radio-top against real publishers, relays and subscribers, and in a real terminal (tmux)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
import zmq

from radio import CurveClient, CurveServer, Observer, Publisher, Relay, Subscriber, create_keys
from radio.core.names import audience_topic, control_topic
from radio.core.wire import Kind, decode
from tests.helpers import DEADLINE_S, wait_until
from tools import child_env

ROOT = Path(__file__).parent.parent
# The tree's own command, whether or not this venv installed the radio-top script.
TOP = [sys.executable, "-c", "from cli.top import main; main()"]
PUB = [sys.executable, "-c", "from cli.pub import main; main()"]
BEACON_S = 0.1


@contextmanager
def audience(
    relayed: bool = False, sub: dict[str, Any] | None = None, **pub: Any
) -> Iterator[tuple[Publisher, str, list[Subscriber]]]:
    """A publisher with news (2 listeners) and sport (1, behind a relay if *relayed*) open.

    Yields the publisher, where an observer connects (the relay's downstream side when
    *relayed*, else the publisher) and the subscribers, once the publisher counts them.
    """
    with ExitStack() as stack:
        publisher = stack.enter_context(
            Publisher("tcp://127.0.0.1:*", channel="ch", beacon_interval=BEACON_S, **pub)
        )
        where = publisher.endpoint
        if relayed:
            where = stack.enter_context(Relay(publisher.endpoint, "tcp://127.0.0.1:*")).backend
        publisher.open_session("sport")
        publisher.open_session("news")  # live
        subs = []
        for session, endpoint in (("news", publisher.endpoint), ("news", where), ("sport", where)):
            listener = stack.enter_context(Subscriber(endpoint, channel="ch", **(sub or {})))
            listener.tune_in(session)
            subs.append(listener)
        assert publisher.wait_for_listener("news", timeout=DEADLINE_S, count=2)
        assert publisher.wait_for_listener("sport", timeout=DEADLINE_S, count=1)
        wait_until(lambda: publisher.channel_listeners() == 3, what="3 on the channel")
        yield publisher, where, subs


def listeners(row: dict[str, Any]) -> dict[str, int | None]:
    return {session["name"]: session["listeners"] for session in row["sessions"]}


def run_top(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOP, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(),
        check=False,
        cwd=ROOT,
    )


@pytest.mark.parametrize("relayed", [False, True])
def test_the_observer_shows_the_publishers_counts_and_adds_no_listener(relayed: bool) -> None:
    with (
        audience(relayed) as (publisher, where, _),
        Observer(where, channel="ch") as observer,
    ):

        def counted() -> bool:
            observer.poll(0.05)
            rows = observer.snapshot().publishers
            return bool(rows) and rows[0].audience and rows[0].channel_listeners is not None

        wait_until(counted, what="an audience heard")
        # Its frames reached the observer: its subscription reached the publisher, and
        # the publisher counts the same three listeners (through the relay too).
        row = observer.snapshot().publishers[0]
        assert {s.name: s.listeners for s in row.sessions} == {"news": 2, "sport": 1}
        assert row.channel_listeners == 3
        assert row.live == "news"
        assert [s.state for s in row.sessions] == ["live", "open"]
        assert publisher.channel_listeners() == 3
        assert (publisher.listeners("news"), publisher.listeners("sport")) == (2, 1)


def test_once_json_shows_listeners_per_session_and_counts_itself_nowhere() -> None:
    with audience() as (publisher, where, _):
        publisher.send("news", b"hello")
        result = run_top("-e", where, "-c", "ch", "--once", "--json")
        assert result.returncode == 0, result.stderr
        snapshot = json.loads(result.stdout)
        (row,) = snapshot["publishers"]
        assert listeners(row) == {"news": 2, "sport": 1}
        assert row["channel_listeners"] == 3  # three subscribers: radio-top is not one
        assert (row["audience"], row["on_air"], row["live"]) == (True, True, "news")
        assert set(snapshot["losses"]) >= {"gaps", "expired", "fenced", "malformed"}
        assert publisher.channel_listeners() == 3


def test_once_prints_the_same_snapshot_as_text() -> None:
    with audience() as (_, where, _subs):
        result = run_top("-e", where, "-c", "ch", "--once")
        assert result.returncode == 0, result.stderr
        assert re.search(r"^\s+news\s+live\s+2\s", result.stdout, re.M), result.stdout
        assert re.search(r"^\s+sport\s+open\s+1\s", result.stdout, re.M), result.stdout
        assert "listeners: channel 3" in result.stdout


def test_a_publisher_can_turn_its_audience_off() -> None:
    """radio-pub --no-audience: beacons come, AUDIENCE frames never; radio-top says so."""
    with zmq.Context.instance().socket(zmq.SUB) as raw:
        port = raw.bind_to_random_port("tcp://127.0.0.1")
        for topic in (control_topic("ch"), audience_topic("ch")):
            raw.setsockopt(zmq.SUBSCRIBE, topic)
        endpoint = f"tcp://127.0.0.1:{port}"
        args = ["--connect", "-c", "ch", "--no-audience", "--beacon-interval", str(BEACON_S)]
        pub = subprocess.Popen(
            [*PUB, "-e", endpoint, *args, "-q"],
            stdin=subprocess.PIPE,
            env=child_env(),
            cwd=ROOT,
        )
        try:
            kinds = []
            while kinds.count(Kind.BEACON) < 5:
                assert raw.poll(int(DEADLINE_S * 1000)), "no beacon from radio-pub"
                kinds.append(decode(raw.recv()).kind)
            assert Kind.AUDIENCE not in kinds
        finally:
            assert pub.stdin is not None
            pub.stdin.close()
            assert pub.wait(timeout=DEADLINE_S) == 0


def test_without_audience_the_counts_are_unknown_not_zero() -> None:
    with audience(audience=False) as (_, where, _subs):
        result = run_top("-e", where, "-c", "ch", "--once", "--json", "--wait", "1")
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)["publishers"]
        assert row["audience"] is False
        assert row["channel_listeners"] is None
        assert set(listeners(row).values()) <= {None}


def test_once_with_nobody_on_air_says_so_in_one_line() -> None:
    result = run_top("-e", "tcp://127.0.0.1:9", "-c", "ch", "--once", "--json", "--wait", "0.3")
    assert result.returncode == 1
    assert json.loads(result.stdout)["publishers"] == []
    assert "no publisher heard on channel 'ch'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--json"], "--json goes with --once"),
        ([], "the live view needs a terminal"),
        (["--refresh", "2"], "--refresh 2 is over 1 s"),
        (["--once", "--curve-secret", "x"], "--curve-secret and --curve-server go together"),
        (["--once", "--heartbeat", "0"], "invalid heartbeat interval 0.0"),  # radio-sub's options
        (["--once", "--wait", "0"], "invalid wait 0"),
    ],
)
def test_usage_errors_are_one_line(args: list[str], error: str) -> None:
    result = run_top("-e", "tcp://127.0.0.1:9", *args)
    assert result.returncode == 2
    assert error in result.stderr
    assert "Traceback" not in result.stderr


def test_curve_with_the_same_key_options_as_radio_sub(tmp_path: Path) -> None:
    keys = {}
    for name in ("server", "client", "stranger"):
        keys[name], keys[f"{name}.secret"] = create_keys(tmp_path / name, name)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "client.key").write_bytes(keys["client"].read_bytes())
    server = CurveServer.from_files(keys["server.secret"], str(allowed))
    client = CurveClient.from_files(keys["client.secret"], keys["server"])
    with audience(security=server, sub={"security": client}) as (_, where, _subs):
        result = run_top(
            "-e", where, "-c", "ch", "--once", "--json",
            "--curve-secret", str(keys["client.secret"]), "--curve-server", str(keys["server"]),
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        (row,) = json.loads(result.stdout)["publishers"]
        assert listeners(row) == {"news": 2, "sport": 1}
        assert row["channel_listeners"] == 3
        stranger = run_top(
            "-e", where, "-c", "ch", "--once", "--json", "--wait", "1",
            "--curve-secret", str(keys["stranger.secret"]), "--curve-server", str(keys["server"]),
        )  # fmt: skip
        assert stranger.returncode == 1  # not on the allow-list: hears nothing
        assert json.loads(stranger.stdout)["publishers"] == []


# -- a real terminal (tmux) ------------------------------------------------------------


_EXITED = "; echo radio-top exited $?; exec cat"  # the shell's own line, after radio-top


class Tmux:
    """A tmux server of its own (its socket in the test's folder), one detached session."""

    def __init__(self, socket: Path) -> None:
        self.base = ["tmux", "-S", str(socket), "-f", "/dev/null"]
        self.target = "top"

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout

    def screen(self) -> list[str]:
        return self("capture-pane", "-p", "-t", self.target).splitlines()

    def wait_for(self, pattern: str) -> list[str]:
        found: list[list[str]] = []

        def shows() -> bool:
            found[:] = [self.screen()]
            return any(re.search(pattern, line) for line in found[0])

        try:
            wait_until(shows, what=f"{pattern!r} on the screen")
        except pytest.fail.Exception:
            pytest.fail(f"{pattern!r} not on the screen:\n" + "\n".join(found[0]))
        return found[0]

    def kill(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=10, check=False)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    session = Tmux(tmp_path / "tmux.sock")
    yield session
    session.kill()


@pytest.mark.parametrize(("key", "status"), [("q", 0), ("C-c", 130)])
def test_live_view_in_a_real_terminal_resizes_and_quits_restoring_it(
    tmux: Tmux, key: str, status: int
) -> None:
    """Drawn, redrawn at the new width after a resize; q (exit 0) or Ctrl-C (130) gives
    the shell its screen back."""
    with audience() as (_, where, _subs):
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in child_env().items() if k == "PYTHONPATH")
        command = " ".join(shlex.quote(arg) for arg in [*TOP, "-e", where, "-c", "ch"])
        shell = f"cd {shlex.quote(str(ROOT))}; env {env} {command}"
        tmux("new-session", "-d", "-s", tmux.target, "-x", "100", "-y", "30", shell + _EXITED)
        screen = tmux.wait_for(r"^\s+news\s+live\s+2\s")
        assert any(re.search(r"^\s+sport\s+open\s+1\s", line) for line in screen)
        assert screen[0].startswith("radio-top  channel ch")
        assert screen[0].endswith("q: quit")
        tmux("resize-window", "-t", tmux.target, "-x", "50", "-y", "20")
        # Redrawn to the new width: the title is cut at 49 characters, no line is wider.
        screen = tmux.wait_for(r"^radio-top  channel ch.{27}~$")
        assert all(len(line) <= 49 for line in screen), screen
        tmux.wait_for(r"^\s+news\s")
        tmux("send-keys", "-t", tmux.target, key)
        screen = tmux.wait_for(r"^radio-top exited \d+$")
        assert f"radio-top exited {status}" in screen
        # The terminal is the shell's again: the view's screen is gone (curses left it).
        assert not any("q: quit" in line or "LISTENERS" in line for line in screen), screen


def test_the_screenshot_in_the_docs_is_the_captured_pane() -> None:
    """docs/operations.md shows docs/top/screen.txt as tools/top_shot.py wrote it."""
    from tools.top_shot import BEGIN, END, OUT, PAGE

    page = PAGE.read_text()
    block = page[page.index(BEGIN) + len(BEGIN) : page.index(END)]
    text = (OUT / "screen.txt").read_text()
    assert block == f"\n```text\n{text}```\n"
    assert "\x1b[" in (OUT / "screen.ansi").read_text()  # capture-pane -e: with its escapes


def test_the_screenshot_tool_captures_a_real_pane(tmux: Tmux, tmp_path: Path) -> None:
    from tools.top_shot import shoot

    text = shoot(tmp_path, page=None)
    assert re.search(r"^\s+news\s+live\s+3\s", text, re.M)
    assert (tmp_path / "screen.txt").read_text() == text


def test_a_terminal_it_cannot_draw_on_is_one_line_not_a_traceback(tmux: Tmux) -> None:
    path = shlex.quote(child_env()["PYTHONPATH"])
    command = " ".join(shlex.quote(arg) for arg in [*TOP, "-e", "tcp://127.0.0.1:9"])
    shell = f"cd {shlex.quote(str(ROOT))}; env TERM=nosuchterm PYTHONPATH={path} {command}"
    tmux("new-session", "-d", "-s", tmux.target, "-x", "100", "-y", "30", shell + _EXITED)
    screen = tmux.wait_for(r"^radio-top exited \d+$")
    assert "Error: cannot draw on this terminal: setupterm: could not find terminal" in screen
    assert "radio-top exited 1" in screen
    assert not any("Traceback" in line for line in screen)
