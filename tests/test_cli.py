"""radio-pub and radio-sub: in-process with CliRunner, and as real processes."""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from radio.cli import pub as pub_cli
from radio.cli import relay as relay_cli
from radio.cli import sub as sub_cli
from radio.cli.errors import ExitStatus, RuntimeFailure, UsageError, cli_errors

from radio import (
    DeskError,
    EndpointError,
    InvalidNameError,
    InvalidSettingError,
    Message,
    Publisher,
    RadioError,
    SessionClosedError,
    Subscriber,
    create_keys,
)
from tests.helpers import DEADLINE_S, default_sigint, free_tcp_endpoint, recv_all, wait_until
from tools import child_env

BIN = Path(sys.executable).parent


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- help and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (pub_cli.command, "radio-pub [OPTIONS] [MESSAGE]..."),
        (sub_cli.command, "radio-sub [OPTIONS]"),
    ],
)
def test_help_reads_well(runner: CliRunner, command: object, usage: str) -> None:
    """--help shows the usage line, a sentence of description and every documented option."""
    prog = usage.split()[0]
    result = runner.invoke(command, ["--help"], prog_name=prog)  # type: ignore[arg-type]
    assert result.exit_code == ExitStatus.OK
    assert result.stdout.startswith(f"Usage: {usage}")
    for option in ("--endpoint", "--bind", "--channel", "--session", "--hwm", "--log-format"):
        assert option in result.stdout


@pytest.mark.parametrize("command", [pub_cli.command, sub_cli.command, relay_cli.command])
def test_every_command_takes_every_socket_option(runner: CliRunner, command: object) -> None:
    """radio-pub, radio-sub and radio-relay share one set of socket options, named after
    the library's SocketOptions, and refuse a bad value for each with exit 2."""
    from radio.cli.options import SOCKET_KEYWORDS

    result = runner.invoke(command, ["--help"])  # type: ignore[arg-type]
    for keyword in SOCKET_KEYWORDS:
        assert "--" + keyword.replace("_", "-") in result.stdout
    bad = runner.invoke(command, ["--connect-timeout", "0"])  # type: ignore[arg-type]
    assert bad.exit_code == ExitStatus.USAGE
    assert "invalid connect timeout 0.0" in bad.stderr


BAD_PUB = [
    (["-e", "localhost:5556", "x"], "invalid endpoint 'localhost:5556'"),
    (["-c", "bad/channel", "x"], "invalid channel name 'bad/channel'"),
    (["-s", "white space", "x"], "invalid session name 'white space'"),
    (["--ttl", "-1", "x"], "invalid ttl -1.0"),
    (["--ttl", "0", "x"], "invalid ttl 0.0"),
    (["--ttl", "soon", "x"], "'soon' is not a valid float"),
    (["--hwm", "-5", "x"], "invalid hwm -5"),
    (["--hwm", "99999999999", "x"], "invalid hwm 99999999999"),
    (["--linger", "1e7", "x"], "invalid linger 10000000.0"),
    (["--rate", "0", "x"], "invalid rate 0.0"),
    (["--count", "-1", "x"], "invalid count -1"),
    (["--wait-for-listener", "-3", "x"], "invalid wait -3.0"),
    (["--heartbeat", "0", "x"], "invalid heartbeat interval 0.0"),
    (["--beacon-interval", "4000", "x"], "invalid beacon interval 4000.0"),
    (["--log-format", "xml", "x"], "'xml' is not one of"),
    (["--no-such-option"], "No such option"),
]
BAD_SUB = [
    (["-e", "tcp//x"], "invalid endpoint 'tcp//x'"),
    (["-c", ""], "invalid channel name ''"),
    (["-s", "a!b"], "invalid session name 'a!b'"),
    (["-s", "s1", "--follow"], "exclude each other"),
    (["-f", "xml"], "'xml' is not one of"),
    (["--hwm", "-1"], "invalid hwm -1"),
    (["--timeout", "-2"], "invalid timeout -2.0"),
    (["-n", "-4"], "invalid count -4"),
    (["--max-message-size", "0"], "invalid count 0"),
    (["--connect-timeout", "0"], "invalid connect timeout 0.0"),
    (["--reconnect-interval", "1e9"], "invalid reconnect interval 1000000000.0"),
]


@pytest.mark.parametrize(
    ("command", "args", "reason"),
    [(pub_cli.command, a, r) for a, r in BAD_PUB] + [(sub_cli.command, a, r) for a, r in BAD_SUB],
)
def test_bad_input_exits_2_with_one_clear_line(
    runner: CliRunner, command: object, args: list[str], reason: str
) -> None:
    """Every bad value is a usage error naming it, never a traceback."""
    result = runner.invoke(command, args)  # type: ignore[arg-type]
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert reason in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_port_in_use_exits_1_naming_the_endpoint(runner: CliRunner) -> None:
    """A runtime failure is exit 1 with a one-line reason."""
    endpoint = free_tcp_endpoint()
    with Publisher(endpoint):
        result = runner.invoke(pub_cli.command, ["-e", endpoint, "x"])
    assert result.exit_code == ExitStatus.RUNTIME
    assert f"cannot bind '{endpoint}'" in result.stderr
    assert "Traceback" not in result.output


def test_no_listener_in_time_exits_1(runner: CliRunner) -> None:
    """--wait-for-listener fails clearly when nobody tunes in."""
    result = runner.invoke(
        pub_cli.command, ["-e", "tcp://127.0.0.1:*", "-s", "s1", "--wait-for-listener", "0.2", "x"]
    )
    assert result.exit_code == ExitStatus.RUNTIME
    assert "fewer than 1 listener(s) tuned in to session 's1'" in result.stderr


def test_wait_for_several_listeners(procs: list[subprocess.Popen[bytes]]) -> None:
    """--listeners 2 holds the messages until both radio-sub processes have tuned in."""
    endpoint = free_tcp_endpoint()
    pub = _spawn(
        "radio-pub",
        "-e",
        endpoint,
        "-s",
        "s1",
        "--wait-for-listener",
        "20",
        "--listeners",
        "2",
        "hello",
    )
    procs.append(pub)
    first = _spawn("radio-sub", "-e", endpoint, "-s", "s1", "-n", "1")
    procs.append(first)
    second = _spawn("radio-sub", "-e", endpoint, "-s", "s1", "-n", "1")
    procs.append(second)
    for sub in (first, second):
        out, err = sub.communicate(timeout=DEADLINE_S * 2)
        assert sub.returncode == 0, err.decode()
        assert out == b"hello\n"
    assert pub.wait(timeout=DEADLINE_S) == 0


# -- the error boundary and the public API --------------------------------------------------


def _raising(error: BaseException) -> Callable[[], None]:
    def body() -> None:
        raise error

    return body


def _sigterm() -> None:
    signal.raise_signal(signal.SIGTERM)  # its handler runs before raise_signal returns


BODIES: dict[str, tuple[Callable[[], None], ExitStatus, str]] = {
    "done": (lambda: None, ExitStatus.OK, ""),
    "invalid-name": (
        _raising(InvalidNameError("invalid channel name 'a/b'")),
        ExitStatus.USAGE,
        "invalid channel name 'a/b'",
    ),
    "invalid-setting": (
        _raising(InvalidSettingError("invalid hwm -1")),
        ExitStatus.USAGE,
        "invalid hwm -1",
    ),
    "usage": (_raising(UsageError("--a and --b go")), ExitStatus.USAGE, "--a and --b go"),
    "endpoint": (
        _raising(EndpointError("cannot bind 'tcp://x:1'")),
        ExitStatus.RUNTIME,
        "cannot bind 'tcp://x:1'",
    ),
    "desk": (_raising(DeskError("the desk refused")), ExitStatus.RUNTIME, "the desk refused"),
    "session": (
        _raising(SessionClosedError("session 's1' is closed")),
        ExitStatus.RUNTIME,
        "session 's1' is closed",
    ),
    "radio": (_raising(RadioError("radio failed")), ExitStatus.RUNTIME, "radio failed"),
    "failure": (_raising(RuntimeFailure("no listener")), ExitStatus.RUNTIME, "no listener"),
    "ctrl-c": (_raising(KeyboardInterrupt()), ExitStatus.INTERRUPTED, ""),
    "sigterm": (_sigterm, ExitStatus.TERMINATED, ""),
}


@click.command()
@click.argument("case")
def _runs(case: str) -> None:
    """Run one of BODIES inside the boundary."""
    with cli_errors():
        BODIES[case][0]()


@pytest.mark.parametrize("case", list(BODIES))
def test_the_boundary_maps_each_kind_of_error_to_its_exit_status(
    runner: CliRunner, case: str
) -> None:
    """Bad values exit USAGE, other radio errors RUNTIME, Ctrl-C INTERRUPTED, SIGTERM
    TERMINATED; the reason is one line on stderr, never a traceback."""
    _, status, reason = BODIES[case]
    sigterm_before = signal.getsignal(signal.SIGTERM)
    result = runner.invoke(_runs, [case])
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert reason in result.stderr
    assert signal.getsignal(signal.SIGTERM) == sigterm_before  # the boundary restores it


def test_exit_statuses_are_the_shells_and_clicks() -> None:
    """ExitStatus agrees with click's own usage errors and with 128 + the signal number."""
    assert ExitStatus.USAGE == click.UsageError.exit_code == UsageError.exit_code
    assert ExitStatus.RUNTIME == click.ClickException.exit_code == RuntimeFailure.exit_code
    assert ExitStatus.INTERRUPTED == 128 + signal.SIGINT
    assert ExitStatus.TERMINATED == 128 + signal.SIGTERM


CLI_SOURCES = sorted((Path(__file__).parents[1] / "cli").glob("*.py"))


def _private_radio_imports(path: Path) -> list[str]:
    """The radio submodules *path* imports (``from radio.x import``, ``import radio.x``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("radio.")]
    return found


def test_the_cli_imports_only_the_public_api() -> None:
    """cli/*.py (bench and soak aside) import from `radio`, never from its submodules."""
    assert len(CLI_SOURCES) >= 8  # pub, sub, relay, keys, demo, options, errors, logs...
    offending = [line for path in CLI_SOURCES for line in _private_radio_imports(path)]
    assert offending == []


# -- output formats ------------------------------------------------------------------------


def _message(payload: bytes) -> Message:
    return Message("ch", "s1", 3, 1700000000.5, 2.0, payload)


def test_json_format_carries_every_field() -> None:
    """json: one object a line, payload as text."""
    line = sub_cli.format_json(_message("héllo".encode()))
    assert line.endswith(b"\n")
    assert json.loads(line) == {
        "channel": "ch",
        "session": "s1",
        "seq": 3,
        "sent_at": 1700000000.5,
        "ttl": 2.0,
        "payload": "héllo",
    }


def test_json_format_base64_encodes_binary_payloads() -> None:
    """A payload that is not UTF-8 is base64 with "encoding": "base64"."""
    record = json.loads(sub_cli.format_json(_message(b"\xff\x00\xfe")))
    assert record["encoding"] == "base64"
    assert record["payload"] == "/wD+"


def test_raw_format_is_payload_and_newline() -> None:
    """raw: just the bytes and a newline."""
    assert sub_cli.format_raw(_message(b"\xff data")) == b"\xff data\n"


# -- in-process runs with a real publisher ----------------------------------------------


def _publish_when_heard(pub: Publisher, session: str, payloads: list[bytes]) -> threading.Thread:
    def run() -> None:
        if pub.wait_for_listener(session, timeout=DEADLINE_S):
            for payload in payloads:
                pub.send(session, payload)
            pub.close_session(session)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_sub_prints_a_session_and_exits_when_it_ends(runner: CliRunner) -> None:
    """-s ID prints that session's payloads on stdout, logs on stderr, and exits 0 at its end."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        pub.open_session("s1")
        thread = _publish_when_heard(pub, "s1", [b"one", b"two", b"three"])
        result = runner.invoke(sub_cli.command, ["-e", pub.endpoint, "-c", "ch", "-s", "s1"])
        thread.join(DEADLINE_S)
    assert result.exit_code == 0, result.output
    assert result.stdout == "one\ntwo\nthree\n"
    assert "sessions_ended" in result.stderr


def test_sub_stats_line_and_json_logs(runner: CliRunner) -> None:
    """--stats writes counters on stderr; --log-format json makes logs parse as JSON."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        pub.open_session("s1")
        thread = _publish_when_heard(pub, "s1", [b"a", b"b"])
        result = runner.invoke(
            sub_cli.command,
            [
                "-e",
                pub.endpoint,
                "-c",
                "ch",
                "-s",
                "s1",
                "--stats",
                "--log-format",
                "json",
                "-f",
                "json",
            ],
        )
        thread.join(DEADLINE_S)
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["payload"] for line in result.stdout.splitlines()] == ["a", "b"]
    stderr = result.stderr.splitlines()
    assert (
        "received=2 gaps=0 expired=0 fenced=0 malformed=0 conflated=0 oversize=0" in result.stderr
    )
    events = [json.loads(line)["event"] for line in stderr if line.startswith("{")]
    assert "subscriber_stats" in events


def test_sub_socket_options_reach_the_subscriber(runner: CliRunner) -> None:
    """--max-message-size, one of the socket options every command shares, reaches the
    library: a larger message is dropped and counted as oversize, the others printed."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        pub.open_session("s1")
        thread = _publish_when_heard(pub, "s1", [b"a", b"x" * 500, b"b"])
        args = ["-e", pub.endpoint, "-c", "ch", "-s", "s1", "--log-format", "json"]
        args += ["--max-message-size", "200", "--connect-timeout", "1", "--hwm", "50"]
        result = runner.invoke(sub_cli.command, args)
        thread.join(DEADLINE_S)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["a", "b"]
    [stats] = [
        json.loads(line)
        for line in result.stderr.splitlines()
        if line.startswith("{") and json.loads(line)["event"] == "subscriber_stats"
    ]
    assert (stats["received"], stats["oversize"], stats["gaps"], stats["lost"]) == (2, 1, 0, 1)


def test_sub_timeout_exits_0_when_nothing_comes(runner: CliRunner) -> None:
    """--timeout stops a quiet subscriber with status 0 and empty stdout."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        result = runner.invoke(sub_cli.command, ["-e", pub.endpoint, "--timeout", "0.3"])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "timed_out" in result.stderr


# -- real processes -------------------------------------------------------------------------


def _spawn(*args: str, stdin: int | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(BIN / args[0]), *args[1:]],
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,
    )


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=DEADLINE_S)


def test_message_given_before_the_subscriber_starts_is_delivered(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    """radio-pub --wait-for-listener holds the message until radio-sub has tuned in."""
    endpoint = free_tcp_endpoint()
    pub = _spawn("radio-pub", "-e", endpoint, "--wait-for-listener", "20", "hello", "world")
    procs.append(pub)
    sub = _spawn("radio-sub", "-e", endpoint, "-n", "2")
    procs.append(sub)
    out, err = sub.communicate(timeout=DEADLINE_S * 2)
    assert sub.returncode == 0, err.decode()
    assert out == b"hello\nworld\n"
    assert pub.wait(timeout=DEADLINE_S) == 0


def test_stdin_lines_arrive_in_order(procs: list[subprocess.Popen[bytes]]) -> None:
    """Each stdin line is one message, in order."""
    endpoint = free_tcp_endpoint()
    sub = _spawn("radio-sub", "-e", endpoint, "--bind", "-n", "500", "-f", "json")
    procs.append(sub)
    lines = b"".join(b"line %d\n" % i for i in range(500))
    pub = subprocess.run(
        [str(BIN / "radio-pub"), "-e", endpoint, "--connect", "--wait-for-listener", "20"],
        input=lines,
        capture_output=True,
        timeout=DEADLINE_S * 2,
        check=False,
    )
    assert pub.returncode == 0, pub.stderr.decode()
    out, err = sub.communicate(timeout=DEADLINE_S)
    assert sub.returncode == 0, err.decode()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["payload"] for r in records] == [f"line {i}" for i in range(500)]
    assert [r["seq"] for r in records] == list(range(1, 501))


def test_follow_switches_sessions_without_mixing(procs: list[subprocess.Popen[bytes]]) -> None:
    """radio-sub --follow moves to each new session and never prints an older one after."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        sub = _spawn(
            "radio-sub", "-e", pub.endpoint, "-c", "ch", "--follow", "-f", "json", "-n", "60"
        )
        procs.append(sub)
        for session in ("s1", "s2", "s3"):
            pub.open_session(session)
            assert pub.wait_for_listener(session, timeout=DEADLINE_S)
            for i in range(20):
                for open_session in pub.sessions:  # older sessions keep talking too
                    pub.send(open_session, b"%s %d" % (open_session.encode(), i))
        out, err = sub.communicate(timeout=DEADLINE_S)
    assert sub.returncode == 0, err.decode()
    sessions = [json.loads(line)["session"] for line in out.splitlines()]
    assert sessions == ["s1"] * 20 + ["s2"] * 20 + ["s3"] * 20


@pytest.mark.parametrize(
    ("signum", "code"),
    [(signal.SIGINT, ExitStatus.INTERRUPTED), (signal.SIGTERM, ExitStatus.TERMINATED)],
)
def test_signals_tune_out_and_exit_with_the_shell_code(
    procs: list[subprocess.Popen[bytes]], signum: int, code: int
) -> None:
    """Ctrl-C exits 130 (SIGTERM 143) after tuning out: the publisher sees the listener go."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        pub.open_session("s1")
        sub = _spawn("radio-sub", "-e", pub.endpoint, "-c", "ch", "-s", "s1")
        procs.append(sub)
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        os.kill(sub.pid, signum)
        assert sub.wait(timeout=DEADLINE_S) == code
        wait_until(lambda: pub.listeners("s1") == 0, what="the listener to leave")
        err = sub.communicate()[1].decode()
    assert "Traceback" not in err
    assert "tuned_out" in err
    assert err.index("tuned_out") < err.index("subscriber_closed")


def test_demo_shows_the_naive_backlog_and_radios_zero() -> None:
    """radio-demo plays both halves and reports stale messages: many naive, none with radio."""
    result = subprocess.run(
        [str(BIN / "radio-demo")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    stale_row = next(
        line for line in result.stdout.splitlines() if line.startswith("session-1 messages")
    )
    naive_stale, radio_stale = stale_row.split()[-2:]
    assert int(naive_stale) > 0
    assert radio_stale == "0"
    assert "radio delivered no stale message and every new one." in result.stdout


def test_demo_runs_as_a_background_job_with_ctrl_c_ignored() -> None:
    """Started with SIGINT ignored (a script's background job, as CI may run it), the demo
    still stops its radio-sub and finishes: it stops it with SIGTERM, which radio-sub handles."""
    result = subprocess.run(
        [str(BIN / "radio-demo")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "radio delivered no stale message and every new one." in result.stdout


@pytest.mark.slow
def test_benchmark_harness_runs_on_tiny_sizes(tmp_path: Path) -> None:
    """`python -m tools.bench.main --quick`: every phase, the page, plots and raw figures.

    Only the harness is checked here: figures live in docs/benchmarks.md, never in a test.
    """
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench.main",
            "--quick",
            "--systems",
            "zmq-1frame,radio,radio-pure",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=child_env(),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "benchmarks.md").read_text()
    for heading in (
        "## Targets",
        "## CPU per message on each side",
        "## The hot paths step by step",
        "## Throughput",
        "## Latency",
        "## Fan-out",
        "## Memory",
    ):
        assert heading in page
    assert "| radio (sync) |" in page
    assert "| radio (sync), pure Python |" in page  # measured in fresh RADIO_PURE=1 interpreters
    figures = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert figures["results"]["throughput"]["radio"]["100"]["median"] > 0
    assert figures["results"]["memory"]["radio"]
    assert figures["results"]["throughput"]["radio-pure"]["100"]["median"] > 0
    assert set(figures["results"]["profile"]) == {"compiled", "pure"}


def test_benchmark_rejects_unknown_systems(runner: CliRunner) -> None:
    """A typo in --systems is a usage error naming it."""
    from tools.bench import main as bench_main

    result = runner.invoke(bench_main.command, ["--systems", "radio,kafka"])
    assert result.exit_code == 2
    assert "kafka" in result.stderr


def test_curve_end_to_end_with_radio_keys(
    tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    """radio-keys makes the keys; radio-pub and radio-sub talk CURVE with them."""
    for name in ("server", "client"):
        made = subprocess.run(
            [str(BIN / "radio-keys"), name, "--dir", str(tmp_path / "keys")],
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
            check=False,
        )
        assert made.returncode == 0, made.stderr
        assert f"{name}.key_secret" in made.stdout
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "client.key").write_bytes((tmp_path / "keys" / "client.key").read_bytes())
    endpoint = free_tcp_endpoint()
    pub = _spawn(
        "radio-pub",
        "-e",
        endpoint,
        "--wait-for-listener",
        "20",
        "--curve-secret",
        str(tmp_path / "keys" / "server.key_secret"),
        "--curve-allow",
        str(allowed),
        "secret hello",
    )
    procs.append(pub)
    sub = _spawn(
        "radio-sub",
        "-e",
        endpoint,
        "-n",
        "1",
        "--curve-secret",
        str(tmp_path / "keys" / "client.key_secret"),
        "--curve-server",
        str(tmp_path / "keys" / "server.key"),
    )
    procs.append(sub)
    out, err = sub.communicate(timeout=DEADLINE_S * 2)
    assert sub.returncode == 0, err.decode()
    assert out == b"secret hello\n"


def test_radio_keys_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    """An existing key pair is never replaced by accident."""
    from radio.cli import keys as keys_cli

    assert runner.invoke(keys_cli.command, ["me", "--dir", str(tmp_path)]).exit_code == 0
    again = runner.invoke(keys_cli.command, ["me", "--dir", str(tmp_path)])
    assert again.exit_code == ExitStatus.RUNTIME
    assert "exists already" in again.stderr


@pytest.mark.parametrize("target", ["me.key", "me.key_secret"])
def test_radio_keys_never_follows_a_symlink(runner: CliRunner, tmp_path: Path, target: str) -> None:
    """A symlink where a key file would go (dangling or not) is refused, its target untouched."""
    from radio.cli import keys as keys_cli

    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / target).symlink_to(victim)
    result = runner.invoke(keys_cli.command, ["me", "--dir", str(tmp_path)])
    assert result.exit_code == ExitStatus.RUNTIME
    assert target in result.stderr
    assert "Traceback" not in result.stderr
    assert victim.read_text() == "precious"
    assert not (tmp_path / "me.key_secret").exists() or target == "me.key_secret"


@pytest.mark.parametrize("kind", ["a-file", "read-only"])
def test_radio_keys_names_an_unusable_dir(runner: CliRunner, tmp_path: Path, kind: str) -> None:
    """A --dir that is a file, or under one, exits 1 with one clear line, no traceback."""
    from radio.cli import keys as keys_cli

    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    directory = blocker if kind == "a-file" else blocker / "below"
    result = runner.invoke(keys_cli.command, ["me", "--dir", str(directory)])
    assert result.exit_code == ExitStatus.RUNTIME
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot write CURVE keys" in lines[0]
    assert "Traceback" not in result.stderr


def test_secret_keys_are_owner_only_from_the_first_byte(tmp_path: Path) -> None:
    """The secret file is created with mode 0600 (umask cannot widen it; no chmod after)."""
    import os
    import stat

    old = os.umask(0)
    try:
        _, secret = create_keys(tmp_path, "me")
    finally:
        os.umask(old)
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("command", "args", "reason"),
    [
        (pub_cli.command, ["--curve-secret", "x.key_secret", "m"], "go together"),
        (sub_cli.command, ["--curve-server", "s.key"], "go together"),
        (
            pub_cli.command,
            ["--curve-secret", "missing.key_secret", "--curve-allow", "*", "m"],
            "cannot read CURVE certificate 'missing.key_secret'",
        ),
        (sub_cli.command, ["--off-air-after", "-1"], "invalid count -1"),
        (pub_cli.command, ["--batch-size", "-2", "m"], "invalid count -2"),
    ],
)
def test_bad_security_and_tuning_options_exit_2(
    runner: CliRunner, command: object, args: list[str], reason: str
) -> None:
    """Key and tuning mistakes are usage errors with the reason, never a traceback."""
    result = runner.invoke(command, args)  # type: ignore[arg-type]
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert reason in result.stderr
    assert "Traceback" not in result.output


def test_desk_from_the_shell(procs: list[subprocess.Popen[bytes]]) -> None:
    """radio-pub --desk serves sessions; radio-sub --desk --client-id joins and hears them."""
    endpoint, desk = free_tcp_endpoint(), free_tcp_endpoint()
    pub = _spawn(
        "radio-pub", "-e", endpoint, "--desk", desk, "--rate", "200", "--count", "100000", "tick"
    )
    procs.append(pub)
    sub = _spawn(
        "radio-sub", "--desk", desk, "--client-id", "shell-client", "-n", "3", "-f", "json"
    )
    procs.append(sub)
    out, err = sub.communicate(timeout=DEADLINE_S * 2)
    assert sub.returncode == 0, err.decode()
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["payload"] for r in records] == ["tick"] * 3
    assert len({r["session"] for r in records}) == 1
    assert b"desk_session" in err


def test_pub_desk_sends_to_desk_clients_through_send_all(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """radio-pub --desk hands each message to Publisher.send_all, which reaches a desk
    client's own session; Ctrl-C then exits INTERRUPTED."""
    endpoint, desk = free_tcp_endpoint(), free_tcp_endpoint()
    heard: list[Message] = []
    client_done = threading.Event()
    sent_to: list[int] = []
    deadline = time.monotonic() + DEADLINE_S * 2
    send, send_all = Publisher.send, Publisher.send_all

    def spy_send(self: Publisher, session: str, payload: bytes, ttl: float | None = None) -> int:
        if client_done.is_set() or time.monotonic() > deadline:
            raise KeyboardInterrupt  # the user's Ctrl-C, at a known point
        return send(self, session, payload, ttl)

    def spy_send_all(self: Publisher, payload: bytes, ttl: float | None = None) -> int:
        sent_to.append(send_all(self, payload, ttl))
        return sent_to[-1]

    def client() -> None:
        try:
            with Subscriber.join(desk, "c1", timeout=DEADLINE_S) as sub:
                heard.extend(recv_all(sub, 3))
        finally:
            client_done.set()

    monkeypatch.setattr(Publisher, "send", spy_send)
    monkeypatch.setattr(Publisher, "send_all", spy_send_all)
    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    result = runner.invoke(
        pub_cli.command,
        ["-e", endpoint, "-s", "main", "--desk", desk, "--rate", "200", "--count", "100000", "m"],
    )
    thread.join(DEADLINE_S)
    assert result.exit_code == ExitStatus.INTERRUPTED, result.output
    assert [m.payload for m in heard] == [b"m"] * 3
    assert {m.session for m in heard} != {"main"}  # the client's own session
    assert sent_to  # through the library call, not a loop over the sessions
    assert max(sent_to) == 2  # the publisher's session and the client's


def test_sub_desk_joins_through_the_library(runner: CliRunner) -> None:
    """radio-sub --desk --client-id joins (Subscriber.join), logs desk_session with the
    session and endpoint, prints what the publisher sends, and exits at --count."""
    with Publisher("tcp://127.0.0.1:*", channel="ch", desk="tcp://127.0.0.1:*") as pub:
        pub.open_session("main")

        def publish() -> None:
            deadline = time.monotonic() + DEADLINE_S
            while time.monotonic() < deadline:
                session = pub.desk_session("c1")
                if session is not None and pub.listeners(session):
                    for payload in (b"one", b"two"):
                        pub.send_all(payload)
                    return
                time.sleep(0.005)  # sync-ok: polling interval of a condition wait

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        assert pub.desk is not None
        result = runner.invoke(
            sub_cli.command, ["--desk", pub.desk, "--client-id", "c1", "-n", "2"]
        )
        thread.join(DEADLINE_S)
        session = pub.desk_session("c1")
    assert result.exit_code == ExitStatus.OK, result.output
    assert [line for line in result.stdout.splitlines() if line in ("one", "two")] == [
        "one",
        "two",
    ]
    assert "desk_session" in result.stderr
    assert f"session={session}" in result.stderr
    assert pub.endpoint in result.stderr


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--desk", "tcp://127.0.0.1:1"], "go together"),
        (["--desk", "tcp://127.0.0.1:1", "--client-id", "a", "--follow"], "no --session"),
        (["--desk", "tcp://127.0.0.1:1", "--client-id", "bad id"], "invalid client name"),
    ],
)
def test_desk_usage_errors(runner: CliRunner, args: list[str], reason: str) -> None:
    """Desk options are checked like the others."""
    result = runner.invoke(sub_cli.command, args)
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert reason in result.stderr


def test_benchmark_page_renders_again_from_its_figures(tmp_path: Path) -> None:
    """--render-only rewrites the page from results.json with the same tables."""
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "tools.bench.main",
            "--quick",
            "--systems",
            "radio",
            "--phases",
            "throughput",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=child_env(),
    )
    assert first.returncode == 0, first.stderr
    page = tmp_path / "benchmarks.md"
    before = [line for line in page.read_text().splitlines() if line.startswith("|")]
    page.unlink()
    again = subprocess.run(
        [sys.executable, "-m", "tools.bench.main", "--render-only", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=child_env(),
    )
    assert again.returncode == 0, again.stderr
    assert [line for line in page.read_text().splitlines() if line.startswith("|")] == before


def test_count_env_endpoint_and_batching_from_the_shell(
    procs: list[subprocess.Popen[bytes]],
) -> None:
    """RADIO_ENDPOINT sets the endpoint; --count repeats the MESSAGEs; --batch-size still
    delivers every message, in order."""
    endpoint = free_tcp_endpoint()
    env = {**os.environ, "RADIO_ENDPOINT": endpoint}
    sub = subprocess.Popen(
        [str(BIN / "radio-sub"), "-n", "6"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    procs.append(sub)
    pub = subprocess.run(
        [
            str(BIN / "radio-pub"),
            "--wait-for-listener",
            "20",
            "--count",
            "3",
            "--batch-size",
            "4",
            "a",
            "b",
        ],
        capture_output=True,
        timeout=DEADLINE_S * 2,
        env=env,
        check=False,
    )
    assert pub.returncode == 0, pub.stderr.decode()
    out, err = sub.communicate(timeout=DEADLINE_S)
    assert sub.returncode == 0, err.decode()
    assert out == b"a\nb\na\nb\na\nb\n"


def test_conflate_from_the_shell(runner: CliRunner) -> None:
    """radio-sub --conflate prints the newest of a burst, not the whole backlog."""
    with Publisher("tcp://127.0.0.1:*", channel="ch") as pub:
        pub.open_session("s1")

        def burst() -> None:
            if pub.wait_for_listener("s1", timeout=DEADLINE_S):
                for i in range(500):
                    pub.send("s1", b"%d" % i)
                pub.close_session("s1")

        thread = threading.Thread(target=burst, daemon=True)
        thread.start()
        result = runner.invoke(
            sub_cli.command, ["-e", pub.endpoint, "-c", "ch", "-s", "s1", "--conflate"]
        )
        thread.join(DEADLINE_S)
    assert result.exit_code == 0, result.output
    # (the in-process publisher's own log lines land in the same captured stream)
    lines = [line for line in result.stdout.splitlines() if line.isdigit()]
    assert lines[-1] == "499"
    assert len(lines) < 500
