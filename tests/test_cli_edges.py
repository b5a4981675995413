"""The command line's edges: absurd numbers, endpoints, IPv6, oversize lines, exit stats."""

from __future__ import annotations

import errno
import io
import json
import socket
import sys
import threading
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner
from radio.cli import pub as pub_cli
from radio.cli import relay as relay_cli
from radio.cli import sub as sub_cli
from radio.cli import top as top_cli
from radio.cli.errors import ExitStatus
from radio.cli.logs import configure_logging

from radio import InvalidSettingError, Publisher, Stats, Subscriber, validate_endpoint
from tests.helpers import DEADLINE_S, free_tcp_endpoint, recv_all

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


# -- absurd numbers ------------------------------------------------------------------------

ABSURD_SECONDS = ["0", "-1", "1e300", "nan", "inf", "-inf"]
ABSURD_COUNTS = ["0", "-1", "99999999999"]

PUB_SECONDS = [
    "--ttl",
    "--wait-for-listener",
    "--rate",
    "--linger",
    "--beacon-interval",
    "--batch-delay",
    "--heartbeat",
    "--heartbeat-timeout",
]
PUB_COUNTS = ["--count", "--listeners", "--batch-size"]
SUB_SECONDS = ["--timeout", "--heartbeat", "--heartbeat-timeout"]
SUB_COUNTS = ["--count", "--off-air-after"]
RELAY_SECONDS = ["--report-interval", "--heartbeat", "--heartbeat-timeout"]
TOP_SECONDS = ["--wait", "--refresh", "--heartbeat"]
TOP_COUNTS = ["--off-air-after"]
RELAY_ARGS = ["--frontend", "tcp://127.0.0.1:5556", "--backend", "tcp://127.0.0.1:*"]

ABSURD = (
    [("radio-pub", [o, v, "m"]) for o in PUB_SECONDS for v in ABSURD_SECONDS]
    + [("radio-pub", [o, v, "m"]) for o in PUB_COUNTS for v in ABSURD_COUNTS]
    + [("radio-pub", ["--hwm", v, "m"]) for v in ("-1", "99999999999")]
    + [
        ("radio-pub", ["--rate", "1e-10", "m"]),  # one message every 300 years
        ("radio-pub", ["--rate", "1e10", "m"]),
        ("radio-pub", ["--beacon-interval", "1e-9", "m"]),  # a busy loop
        ("radio-pub", ["--heartbeat", "1e-9", "m"]),
        ("radio-pub", ["--batch-size", "100000", "m"]),
    ]
    + [("radio-sub", [o, v]) for o in SUB_SECONDS for v in ABSURD_SECONDS]
    + [("radio-sub", [o, v]) for o in SUB_COUNTS for v in ABSURD_COUNTS]
    + [("radio-sub", ["--hwm", v]) for v in ("-1", "99999999999")]
    + [("radio-relay", [*RELAY_ARGS, o, v]) for o in RELAY_SECONDS for v in ABSURD_SECONDS]
    + [("radio-relay", [*RELAY_ARGS, "--report-interval", "1e-9"])]
    + [("radio-relay", [*RELAY_ARGS, "--hwm", v]) for v in ("-1", "99999999999")]
    + [("radio-top", [o, v, "--once"]) for o in TOP_SECONDS for v in ABSURD_SECONDS]
    + [("radio-top", [o, v, "--once"]) for o in TOP_COUNTS for v in ABSURD_COUNTS]
    + [("radio-top", ["--refresh", "1e-9", "--once"])]
)
COMMANDS = {
    "radio-pub": pub_cli.command,
    "radio-sub": sub_cli.command,
    "radio-relay": relay_cli.command,
    "radio-top": top_cli.command,
}


@pytest.mark.parametrize(("prog", "args"), ABSURD, ids=[f"{p} {' '.join(a)}" for p, a in ABSURD])
def test_absurd_numbers_exit_2_naming_the_option_and_value(
    runner: CliRunner, prog: str, args: list[str]
) -> None:
    """0, negative, huge, tiny, nan and inf are usage errors naming the option: no traceback."""
    option = next(a for a in args if a.startswith("--") and a not in ("--frontend", "--backend"))
    value = args[args.index(option) + 1]
    result = runner.invoke(COMMANDS[prog], args, prog_name=prog)  # type: ignore[arg-type]
    assert result.exit_code == ExitStatus.USAGE, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("Error: ")
    assert option in message or "batch size" in message, message
    shown = {"1e300": "1e+300", "1e10": "10000000000.0", "1e-9": "1e-09", "1e-10": "1e-10"}
    number = shown.get(value, value)
    assert number in message or str(float(value)) in message, message


# -- endpoints -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("tcp://127.0.0.1:99999", "port '99999' is not from 1 to 65535"),
        ("tcp://127.0.0.1:0", "port '0' is not from 1 to 65535"),
        ("tcp://127.0.0.1:-1", "port '-1'"),
        ("tcp://127.0.0.1:http", "port 'http'"),
        ("tcp://127.0.0.1", "expected HOST:PORT"),
        ("tcp://:5556", "expected HOST:PORT"),
        ("tcp://::1:5556", "an IPv6 address goes in brackets"),
        ("tcp://bad!host:5556", "invalid host 'bad!host'"),
        ("ws://127.0.0.1:70000/path", "port '70000'"),
    ],
)
def test_a_bad_port_or_host_is_refused_by_the_library(endpoint: str, reason: str) -> None:
    """validate_endpoint names the endpoint and what is wrong: libzmq would take port % 65536."""
    with pytest.raises(InvalidSettingError, match=reason) as caught:
        validate_endpoint(endpoint)
    assert repr(endpoint) in str(caught.value)
    with pytest.raises(InvalidSettingError, match=reason):
        Publisher(endpoint)


@pytest.mark.parametrize(
    "endpoint",
    [
        "tcp://127.0.0.1:5556",
        "tcp://*:*",
        "tcp://[::1]:5556",
        "tcp://[fe80::1%eth0]:5556",
        "tcp://eth0:*",
        "tcp://192.168.1.17:5555;192.168.1.1:5555",
        "tcp://eth0;192.168.1.1:5555",
        "ws://example.com:8080/radio",
        "ipc:///tmp/radio.sock",
        "inproc://radio",
    ],
)
def test_good_endpoints_pass(endpoint: str) -> None:
    """Every form ZeroMQ documents still passes (a tcp source's port is optional)."""
    assert validate_endpoint(endpoint) == endpoint


@pytest.mark.parametrize(
    ("prog", "args", "status", "reason"),
    [
        ("radio-pub", ["-e", "tcp://127.0.0.1:99999", "m"], ExitStatus.USAGE, "port '99999'"),
        ("radio-sub", ["-e", "tcp://127.0.0.1:65536"], ExitStatus.USAGE, "port '65536'"),
        ("radio-sub", ["-e", "tcp://127.0.0.1:*"], ExitStatus.USAGE, "needs binding"),
        ("radio-pub", ["--connect", "-e", "tcp://*:5556", "m"], ExitStatus.USAGE, "needs binding"),
        (
            "radio-relay",
            ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*"],
            ExitStatus.USAGE,
            "--frontend 'tcp://127.0.0.1:*'",
        ),
        (
            "radio-sub",
            ["-e", "tcp://no-such-host.invalid:5556"],
            ExitStatus.RUNTIME,
            "cannot resolve host 'no-such-host.invalid' of --endpoint",
        ),
        (
            "radio-pub",
            ["-e", "tcp://no-such-host.invalid:5556", "m"],
            ExitStatus.RUNTIME,
            "cannot resolve host 'no-such-host.invalid'",
        ),
        (
            "radio-relay",
            ["--frontend", "tcp://no-such-host.invalid:1", "--backend", "tcp://127.0.0.1:*"],
            ExitStatus.RUNTIME,
            "of --frontend",
        ),
    ],
)
def test_endpoint_mistakes_exit_with_one_line(
    runner: CliRunner, prog: str, args: list[str], status: ExitStatus, reason: str
) -> None:
    """A port outside 1-65535 or '*' to connect to exits 2; an unknown host exits 1: one line."""
    result = runner.invoke(COMMANDS[prog], args, prog_name=prog)  # type: ignore[arg-type]
    assert result.exit_code == status, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    assert reason in errors[0]


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(
    not _has_ipv6_loopback(), reason="this machine has no IPv6 loopback (::1)"
)


@needs_ipv6
def test_ipv6_literal_turns_ipv6_on_by_itself() -> None:
    """tcp://[::1]:* binds and connects without ipv6=True: the bracketed literal asks for it."""
    with (
        Publisher("tcp://[::1]:*", channel="v6") as pub,
        Subscriber(pub.endpoint, channel="v6") as sub,
    ):
        assert pub.endpoint.startswith("tcp://[::1]:")
        session = pub.open_session()
        sub.tune_in(session)
        assert pub.wait_for_listener(session, timeout=DEADLINE_S)
        pub.send(session, b"over ipv6")
        assert [m.payload for m in recv_all(sub, 1)] == [b"over ipv6"]


@needs_ipv6
def test_a_desk_on_an_ipv6_literal_is_joined_by_itself() -> None:
    """Subscriber.join("tcp://[::1]:port") reaches a desk bound there, without ipv6=True."""
    port = free_tcp_endpoint().rsplit(":", 1)[1]
    desk = f"tcp://[::1]:{port}"
    with (
        Publisher("tcp://[::1]:*", channel="v6", desk=desk) as pub,
        Subscriber.join(desk, "client-6") as sub,
    ):
        session = pub.desk_session("client-6")
        assert session is not None
        assert sub.sessions == {session}
        assert pub.wait_for_listener(session, timeout=DEADLINE_S)
        pub.send(session, b"desk over ipv6")
        assert [m.payload for m in recv_all(sub, 1)] == [b"desk over ipv6"]


@needs_ipv6
def test_ipv6_flag_round_trip_from_the_cli(runner: CliRunner) -> None:
    """radio-sub --ipv6 hears a publisher bound to tcp://*:* with ipv6=True, over [::1]."""
    with Publisher("tcp://*:*", channel="v6", ipv6=True) as pub:
        port = pub.endpoint.rsplit(":", 1)[1]
        pub.open_session("s1")

        def publish() -> None:
            if pub.wait_for_listener("s1", timeout=DEADLINE_S):
                pub.send("s1", b"hello v6")
                pub.close_session("s1")

        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        args = ["-e", f"tcp://[::1]:{port}", "-c", "v6", "-s", "s1", "--ipv6", "--timeout", "10"]
        result = runner.invoke(sub_cli.command, args)
        thread.join(DEADLINE_S)
    assert result.exit_code == ExitStatus.OK, result.output
    assert result.stdout == "hello v6\n"


def test_ipv6_flag_is_offered_by_every_networked_command(runner: CliRunner) -> None:
    """radio-pub, radio-sub and radio-relay all take --ipv6."""
    for prog, command in COMMANDS.items():
        result = runner.invoke(command, ["--help"], prog_name=prog)  # type: ignore[arg-type]
        assert "--ipv6" in result.stdout, prog


# -- oversize stdin lines ------------------------------------------------------------------


def test_default_max_message_size_is_the_librarys() -> None:
    """radio-pub's --max-message-size default is radio's own frame limit."""
    from radio.settings import MAX_MESSAGE_BYTES

    assert pub_cli.MAX_MESSAGE_BYTES == MAX_MESSAGE_BYTES


def test_an_oversize_line_is_skipped_counted_and_the_rest_sent(runner: CliRunner) -> None:
    """Lines over the limit are skipped with one rate-limited warning; the others arrive, no gap."""
    endpoint = free_tcp_endpoint()
    big = [b"x" * 300, b"y" * 400, b"z" * 500, b"w" * 600, b"v" * 700]
    lines = [b"a", big[0], b"b", *big[1:], b"c"]
    wait = ["--wait-for-listener", str(DEADLINE_S), "--max-message-size", "200"]
    with Subscriber(endpoint, channel="ch") as sub:
        sub.tune_in("s1")
        result = runner.invoke(
            pub_cli.command,
            ["-e", endpoint, "-c", "ch", "-s", "s1", *wait],
            input=b"\n".join(lines) + b"\n",
        )
        assert result.exit_code == ExitStatus.OK, result.output
        got = recv_all(sub, 3)
        assert [(m.payload, m.seq) for m in got] == [(b"a", 1), (b"b", 2), (b"c", 3)]
        assert sub.stats.gaps == 0
    warnings = [line for line in result.stderr.splitlines() if "line_skipped" in line]
    assert len(warnings) == 1, result.stderr  # the four others within the second are counted
    assert "size=300" in warnings[0]
    assert "max_message_size=200" in warnings[0]
    assert "messages_sent" in result.stderr
    assert "skipped=5" in result.stderr
    assert "lines_skipped" in result.stderr


# -- exit stats: read ahead is unread, not fenced ------------------------------------------


def _publish_batch_when_heard(pub: Publisher, session: str, count: int) -> threading.Thread:
    """Send *count* messages in one batch frame once a listener is in: all decoded at once."""

    def run() -> None:
        if pub.wait_for_listener(session, timeout=DEADLINE_S):
            for i in range(count):
                pub.send(session, b"m%d" % i)
            pub.flush()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_closing_counts_read_ahead_as_unread_not_fenced() -> None:
    """Subscriber.close sets `unread` for messages decoded but never yielded; fenced stays 0."""
    with Publisher("tcp://127.0.0.1:*", channel="ch", batch_size=10, batch_delay=60.0) as pub:
        pub.open_session("s1")
        with Subscriber(pub.endpoint, channel="ch") as sub:
            sub.tune_in("s1")
            _publish_batch_when_heard(pub, "s1", 10).join(DEADLINE_S)
            assert [m.payload for m in recv_all(sub, 3)] == [b"m0", b"m1", b"m2"]
        stats = sub.stats
    assert stats.fenced == 0
    assert sub.unread == 7
    assert stats.received == 3 + sub.unread


def test_sub_count_exit_stats_are_exact(runner: CliRunner) -> None:
    """radio-sub -n 3 reports printed=3 and the read-ahead rest as unread, none as fenced."""
    with Publisher("tcp://127.0.0.1:*", channel="ch", batch_size=10, batch_delay=60.0) as pub:
        pub.open_session("s1")
        thread = _publish_batch_when_heard(pub, "s1", 10)
        args = ["-e", pub.endpoint, "-c", "ch", "-s", "s1", "-n", "3", "--log-format", "json"]
        result = runner.invoke(sub_cli.command, args)
        thread.join(DEADLINE_S)
    assert result.exit_code == ExitStatus.OK, result.output
    assert result.stdout == "m0\nm1\nm2\n"
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    stats = next(r for r in records if r["event"] == "subscriber_stats")
    assert (stats["printed"], stats["unread"], stats["fenced"]) == (3, 7, 0)
    assert stats["received"] == stats["printed"] + stats["unread"]


# -- the --stats line and log lines ---------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_status_line_is_ended_before_a_log_line_and_at_exit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a terminal the line is rewritten in place; a log line and the exit start a new one."""
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    handler = configure_logging("json")
    status = sub_cli._StatusLine(handler)
    status.update(Stats(received=1), force=True)
    status.update(Stats(received=2), force=True)
    structlog.get_logger("radio.cli").info("something_happened")
    status.update(Stats(received=3), force=True)
    status.end()
    status.end()  # ending twice writes one newline
    text = terminal.getvalue()
    first, log_line, last, rest = text.split("\n")
    assert first.startswith("\rreceived=1 ")
    assert "\rreceived=2 " in first
    assert json.loads(log_line)["event"] == "something_happened"
    assert last.startswith("\rreceived=3 ")
    assert last.endswith("\x1b[K")
    assert rest == ""


def test_status_lines_off_a_terminal_are_plain_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    """Piped to a file, each status update is a line of its own: no \\r, no escape codes."""
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    status = sub_cli._StatusLine(configure_logging("json"))
    status.update(Stats(received=1), force=True)
    status.end()
    assert stream.getvalue().startswith("received=1 gaps=0")
    assert stream.getvalue().count("\n") == 1
    assert "\r" not in stream.getvalue()


def test_port_in_use_message_is_the_documented_one(runner: CliRunner) -> None:
    """The exit-1 line for a port in use reads as docs/cli.md shows it."""
    with Publisher("tcp://127.0.0.1:*") as pub:
        result = runner.invoke(pub_cli.command, ["-e", pub.endpoint, "x"])
    assert result.exit_code == ExitStatus.RUNTIME
    wanted = (
        f"Error: [Errno {errno.EADDRINUSE}] cannot bind '{pub.endpoint}': Address already in use"
    )
    assert result.stderr.splitlines()[-1] == wanted
    documented = wanted.replace(pub.endpoint, "tcp://127.0.0.1:5556")
    assert documented.replace(str(errno.EADDRINUSE), "98") in (ROOT / "docs" / "cli.md").read_text()
