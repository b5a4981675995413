"""Prometheus metrics: /metrics scraped over HTTP from real publishers, relays, subscribers."""

from __future__ import annotations

import json
import queue
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import zmq
from prometheus_client.parser import text_string_to_metric_families

import radio
from radio import (
    CurveClient,
    CurveServer,
    EndpointError,
    InvalidSettingError,
    MetricsServer,
    Publisher,
    RadioCollector,
    Relay,
    Subscriber,
    create_keys,
    serve_metrics,
)
from radio.desk import ask
from radio.metrics import METRICS
from tests.helpers import DEADLINE_S, default_sigint, free_tcp_endpoint, recv_all, wait_until

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample of the page at *url*, parsed by prometheus_client's own text parser."""
    with urllib.request.urlopen(url, timeout=DEADLINE_S) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode("utf-8")
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        assert family.name.startswith("radio_"), family.name
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    """The value of the sample *name* with exactly *labels*, or None when there is none."""
    return samples.get((name, frozenset(labels.items())))


def scraped(
    url: str, name: str, wanted: float | None, *, at_least: bool = False, **labels: str
) -> Samples:
    """Scrape *url* until sample *name* (with *labels*) reads *wanted* (None: is gone;
    *at_least*: *wanted* or more); fail at the deadline."""

    def check() -> tuple[Samples] | None:
        samples = scrape(url)
        got = value(samples, name, **labels)
        if at_least:
            return (samples,) if got is not None and wanted is not None and got >= wanted else None
        return (samples,) if got == wanted else None

    return wait_until(check, what=f"{name}{labels} == {wanted}")[0]


# -- a publisher ----------------------------------------------------------------------------


def test_listeners_per_session_follow_subscribers_in_and_out() -> None:
    """Two subscribers tune in to s1: the gauge labelled s1 reads 2, then 0 once they close;
    the counters read what was sent, opened and closed."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        serve_metrics("127.0.0.1:0", pub) as metrics,
    ):
        pub.open_session("s1")
        pub.open_session("s2")
        subs = [Subscriber(pub.endpoint, channel="c") for _ in range(2)]
        try:
            for sub in subs:
                sub.tune_in("s1")
            samples = scraped(
                metrics.url, "radio_publisher_session_listeners", 2, channel="c", session="s1"
            )
            assert (
                value(samples, "radio_publisher_session_listeners", channel="c", session="s2") == 0
            )
            assert value(samples, "radio_publisher_channel_listeners", channel="c") == 2
            for i in range(7):
                pub.send("s1", b"m%d" % i)
            pub.send_many("s2", [b"a", b"b", b"c"])
            for sub in subs:
                recv_all(sub, 7)
        finally:
            for sub in subs:
                sub.close()
        samples = scraped(
            metrics.url, "radio_publisher_session_listeners", 0, channel="c", session="s1"
        )
        assert value(samples, "radio_publisher_messages_sent_total", channel="c") == 10
        assert value(samples, "radio_publisher_sessions_opened_total", channel="c") == 2
        assert value(samples, "radio_publisher_open_sessions", channel="c") == 2
        pub.close_session("s1")
        samples = scrape(metrics.url)
        assert value(samples, "radio_publisher_sessions_closed_total", channel="c") == 1
        assert value(samples, "radio_publisher_open_sessions", channel="c") == 1
        # A closed session's messages still count; its gauge is gone with it.
        assert value(samples, "radio_publisher_messages_sent_total", channel="c") == 10
        assert (
            value(samples, "radio_publisher_session_listeners", channel="c", session="s1") is None
        )
        # Without CURVE there is no CURVE counter to misread as "nobody refused".
        assert value(samples, "radio_publisher_curve_refusals_total", channel="c") is None


def test_every_metric_has_its_declared_type_and_help() -> None:
    """The page declares each family once, with the type and help of `METRICS`."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c") as sub,
        serve_metrics("127.0.0.1:0", pub, sub) as metrics,
    ):
        pub.open_session("s1")
        with urllib.request.urlopen(metrics.url, timeout=DEADLINE_S) as response:
            text = response.read().decode("utf-8")
    seen = set()
    for family in text_string_to_metric_families(text):
        name = family.name + ("_total" if family.type == "counter" else "")
        assert name in METRICS, name
        assert family.type == METRICS[name].kind
        assert family.documentation == METRICS[name].help
        seen.add(name)
    assert {name for name in METRICS if "curve" not in name and "relay" not in name} <= seen


def test_desk_joins_and_refusals_are_counted() -> None:
    """A desk join counts one join; a request that is not JSON, one refusal."""
    desk = free_tcp_endpoint()
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", desk=desk) as pub,
        serve_metrics("127.0.0.1:0", pub) as metrics,
    ):
        answer = ask(pub.desk, "client-1")
        assert answer.session in pub.sessions
        req = zmq.Context.instance().socket(zmq.REQ)
        try:
            req.setsockopt(zmq.LINGER, 0)
            req.connect(pub.desk)
            req.send(b"not json")
            assert req.poll(int(DEADLINE_S * 1000))
            assert json.loads(req.recv())["ok"] is False
        finally:
            req.close(linger=0)
        samples = scrape(metrics.url)
        assert value(samples, "radio_publisher_desk_joins_total", channel="c") == 1
        assert value(samples, "radio_publisher_desk_refusals_total", channel="c") == 1
        assert value(samples, "radio_publisher_desk_clients", channel="c") == 1
        assert value(samples, "radio_publisher_sessions_opened_total", channel="c") == 1


def test_presence_refusals_are_counted() -> None:
    """A join over the presence cap is refused and counted (the cap lowered to 1 here)."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        serve_metrics("127.0.0.1:0", pub) as metrics,
        Subscriber(pub.endpoint, channel="c") as first,
        Subscriber(pub.endpoint, channel="c") as second,
    ):
        pub._core.presence.max_listeners = 1  # one (topic, listener) pair: the rest refused
        pub.open_session("s1")
        first.tune_in("s1")
        second.tune_in("s1")
        samples = scraped(
            metrics.url, "radio_publisher_presence_refusals_total", 1, at_least=True, channel="c"
        )
        listeners = value(samples, "radio_publisher_session_listeners", channel="c", session="s1")
        assert listeners is not None
        assert listeners <= 1


class Curve(NamedTuple):
    """A CURVE server allowing one client, that client, and a stranger it refuses."""

    server: CurveServer
    client: CurveClient
    stranger: CurveClient


@pytest.fixture
def curve(tmp_path: Path) -> Curve:
    """Key pairs for a server, an allowed client and a stranger, as radio's CURVE settings."""
    made: dict[str, Path] = {}
    for name in ("server", "client", "stranger"):
        made[name], made[f"{name}.secret"] = create_keys(tmp_path / name, name)
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    (allowed / "client.key").write_bytes(made["client"].read_bytes())
    return Curve(
        CurveServer.from_files(made["server.secret"], str(allowed)),
        CurveClient.from_files(made["client.secret"], made["server"]),
        CurveClient.from_files(made["stranger.secret"], made["server"]),
    )


def test_curve_admissions_and_refusals_are_counted(curve: Curve) -> None:
    """An allowed key's handshake counts one admission, a stranger's one refusal."""
    server, client, stranger = curve
    with (
        Publisher("tcp://127.0.0.1:*", channel="c", security=server) as pub,
        serve_metrics("127.0.0.1:0", pub) as metrics,
        Subscriber(pub.endpoint, channel="c", security=client) as allowed,
        Subscriber(pub.endpoint, channel="c", security=stranger),
    ):
        pub.open_session("s1")
        allowed.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        samples = scraped(
            metrics.url, "radio_publisher_curve_refusals_total", 1, at_least=True, channel="c"
        )
        assert value(samples, "radio_publisher_curve_admissions_total", channel="c") == 1
        assert value(samples, "radio_publisher_session_listeners", channel="c", session="s1") == 1


# -- a relay --------------------------------------------------------------------------------


def test_a_relay_serves_its_listeners_and_what_it_forwarded(tmp_path: Path) -> None:
    """Over ipc through a relay: the relay counts the two subscribers behind it by session,
    the publisher counts them too, and the relay counts the messages it forwarded."""
    with (
        Publisher(f"ipc://{tmp_path}/pub.sock", channel="c") as pub,
        Relay(pub.endpoint, f"ipc://{tmp_path}/relay.sock") as relay,
        serve_metrics("127.0.0.1:0", relay) as relay_metrics,
        serve_metrics("127.0.0.1:0", pub) as pub_metrics,
        Subscriber(relay.backend, channel="c") as one,
        Subscriber(relay.backend, channel="c") as two,
    ):
        pub.open_session("s1")
        one.tune_in("s1")
        two.tune_in("s1")
        scraped(relay_metrics.url, "radio_relay_session_listeners", 2, channel="c", session="s1")
        scraped(pub_metrics.url, "radio_publisher_session_listeners", 2, channel="c", session="s1")
        for i in range(5):
            pub.send("s1", b"%d" % i)
        recv_all(one, 5)
        recv_all(two, 5)
        samples = scraped(
            relay_metrics.url, "radio_relay_forwarded_messages_total", 5, at_least=True
        )
        assert value(samples, "radio_relay_channel_listeners", channel="c") == 2
        assert (value(samples, "radio_relay_forwarded_bytes_total") or 0) > 0
        assert value(samples, "radio_relay_presence_refusals_total") == 0
        one.close()
        two.close()
        scraped(relay_metrics.url, "radio_relay_channel_listeners", None, channel="c")


def test_a_relay_counts_its_curve_handshakes(curve: Curve) -> None:
    """With a backend allow-list, the relay counts the keys it admits and refuses, and
    the subscribers behind it by session (its own loop, keys told apart)."""
    server, client, stranger = curve
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Relay(pub.endpoint, "tcp://127.0.0.1:*", backend_security=server) as relay,
        serve_metrics("127.0.0.1:0", relay) as metrics,
        Subscriber(relay.backend, channel="c", security=client) as allowed,
        Subscriber(relay.backend, channel="c", security=stranger),
    ):
        pub.open_session("s1")
        allowed.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        samples = scraped(metrics.url, "radio_relay_curve_refusals_total", 1, at_least=True)
        assert value(samples, "radio_relay_curve_admissions_total") == 1
        assert value(samples, "radio_relay_session_listeners", channel="c", session="s1") == 1
        assert value(samples, "radio_relay_presence_refusals_total") == 0


# -- a subscriber ---------------------------------------------------------------------------


def test_a_subscriber_serves_received_and_lost_by_reason() -> None:
    """A message over the subscriber's size limit is lost as oversize; the others received."""
    with (
        Publisher("tcp://127.0.0.1:*", channel="c") as pub,
        Subscriber(pub.endpoint, channel="c", max_message_size=100) as sub,
        serve_metrics("127.0.0.1:0", sub) as metrics,
    ):
        pub.open_session("s1")
        sub.tune_in("s1")
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"small")
        pub.send("s1", b"x" * 300)  # within 4x the limit: counted, not a dropped connection
        pub.send("s1", b"small again")
        assert [m.payload for m in recv_all(sub, 2)] == [b"small", b"small again"]
        samples = scraped(
            metrics.url, "radio_subscriber_lost_messages_total", 1, channel="c", reason="oversize"
        )
        assert value(samples, "radio_subscriber_received_messages_total", channel="c") == 2
        for reason in ("gaps", "expired", "fenced", "conflated"):
            assert (
                value(samples, "radio_subscriber_lost_messages_total", channel="c", reason=reason)
                == 0
            )
        assert value(samples, "radio_subscriber_malformed_frames_total", channel="c") == 0
        scraped(metrics.url, "radio_subscriber_on_air", 1, channel="c")


# -- the server -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("9464", "expected HOST:PORT"),
        (":9464", "expected HOST:PORT"),
        ("127.0.0.1:", "port '' is not a number"),
        ("127.0.0.1:http", "port 'http' is not a number"),
        ("127.0.0.1:65536", "port '65536' is not a number from 0 to 65535"),
        ("::1:9464", "put an IPv6 host in brackets"),
        ("[::1:9464", "unbalanced brackets"),
        ("[nope]:9464", "is not an IPv6 address"),
        ("a b:9464", "is not a host name or address"),
    ],
)
def test_a_bad_address_is_named(address: str, reason: str) -> None:
    with pytest.raises(InvalidSettingError, match="invalid metrics address") as caught:
        serve_metrics(address)
    assert repr(address) in str(caught.value)
    assert reason in str(caught.value)


def test_a_taken_port_is_an_endpoint_error_and_close_frees_the_port() -> None:
    """A port in use is named; once closed, the port is free again and nothing answers."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EndpointError, match=f"cannot serve metrics on '127.0.0.1:{port}'"):
            serve_metrics(f"127.0.0.1:{port}")
    server = serve_metrics(f"127.0.0.1:{port}")
    assert server.address == f"127.0.0.1:{port}"
    assert scrape(server.url) == {}  # no source: an empty page
    server.close()
    server.close()  # twice is harmless
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.url, timeout=DEADLINE_S)
    with serve_metrics(f"127.0.0.1:{port}") as again:  # the port was freed
        assert "serving" in repr(again)


def test_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        server = serve_metrics("[::1]:0")
    except EndpointError as exc:
        pytest.skip(f"no IPv6 loopback here: {exc}")
    with server:
        assert server.url.startswith("http://[::1]:")
        assert scrape(server.url) == {}


def test_a_collector_takes_only_radio_objects() -> None:
    with pytest.raises(InvalidSettingError, match="expected a Publisher, Relay or Subscriber"):
        RadioCollector(object())  # type: ignore[arg-type]


def test_the_collector_registers_in_any_registry() -> None:
    """Users with a registry of their own register the collector there."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        registry.register(RadioCollector(pub))
        pub.open_session("s1")
        pub.send("s1", b"x")
        text = generate_latest(registry).decode()
    assert 'radio_publisher_messages_sent_total{channel="c"} 1.0' in text


# -- without prometheus_client --------------------------------------------------------------

BLOCKED = "import sys; sys.modules['prometheus_client'] = None; "


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_import_radio_never_imports_prometheus_client() -> None:
    result = _python(
        "import sys, radio, radio.metrics; assert 'prometheus_client' not in sys.modules"
    )
    assert result.returncode == 0, result.stderr


def test_without_prometheus_client_the_library_says_what_to_install() -> None:
    result = _python(
        BLOCKED + "import radio\n"
        "try:\n    radio.serve_metrics('127.0.0.1:0')\n"
        "except radio.MetricsUnavailableError as exc:\n"
        "    assert isinstance(exc, ImportError); print(exc)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "pip install 'radio-zmq[metrics]'" in result.stdout


@pytest.mark.parametrize("command", ["pub", "sub", "relay"])
def test_without_prometheus_client_metrics_is_a_one_line_usage_error(command: str) -> None:
    args = {
        "pub": ["x"],
        "sub": [],
        "relay": ["--frontend", "tcp://127.0.0.1:1", "--backend", "tcp://127.0.0.1:*"],
    }[command]
    result = _python(
        BLOCKED + f"from radio.cli.{command} import main; "
        f"sys.argv = ['radio-{command}', '--metrics', '127.0.0.1:0', *{args!r}]; main()"
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert (
        "Error: Invalid value for '--metrics': prometheus_client is not installed: "
        "pip install 'radio-zmq[metrics]'" in result.stderr
    )


# -- the commands ---------------------------------------------------------------------------


class Command:
    """A radio command run as a real process, its stderr read line by line (JSON logs)."""

    def __init__(self, *args: str, stdin: int | None = None) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / args[0]), *args[1:], "--log-format", "json"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=default_sigint,
        )
        self.events: queue.Queue[dict[str, object] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                self.events.put(json.loads(line))
            except ValueError:
                self.events.put({"event": "text", "text": line.decode(errors="replace")})
        self.events.put(None)

    def wait_for(self, event: str) -> dict[str, object]:
        """The first log event named *event* (fails if the process exits first)."""
        while True:
            try:
                record = self.events.get(timeout=DEADLINE_S)
            except queue.Empty:
                pytest.fail(f"{self.proc.args} logged no {event} within {DEADLINE_S} s")
            if record is None:
                pytest.fail(f"{self.proc.args} exited ({self.proc.wait()}) before {event}")
            if record.get("event") == event:
                return record

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=DEADLINE_S)


@pytest.fixture
def commands() -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:
        command.stop()


def test_radio_pub_metrics_on_a_free_port(commands: list[Command]) -> None:
    """radio-pub --metrics 127.0.0.1:0 logs where it serves; the page counts the listener
    and the lines sent."""
    endpoint = free_tcp_endpoint()
    pub = Command(
        "radio-pub",
        "-e",
        endpoint,
        "-c",
        "c",
        "-s",
        "s1",
        "--metrics",
        "127.0.0.1:0",
        stdin=subprocess.PIPE,
    )
    commands.append(pub)
    url = str(pub.wait_for("metrics_serving")["url"])
    assert url.startswith("http://127.0.0.1:")
    assert url.endswith("/metrics")
    with Subscriber(endpoint, channel="c") as sub:
        sub.tune_in("s1")
        scraped(url, "radio_publisher_session_listeners", 1, channel="c", session="s1")
        assert pub.proc.stdin is not None
        pub.proc.stdin.write(b"one\ntwo\nthree\n")
        pub.proc.stdin.flush()
        assert [m.payload for m in recv_all(sub, 3)] == [b"one", b"two", b"three"]
        scraped(url, "radio_publisher_messages_sent_total", 3, channel="c")
        pub.proc.stdin.close()
        assert pub.proc.wait(timeout=DEADLINE_S) == 0
    pub.wait_for("metrics_closed")


def test_radio_sub_metrics(commands: list[Command]) -> None:
    """radio-sub --metrics serves what it received and lost, by reason."""
    with Publisher("tcp://127.0.0.1:*", channel="c") as pub:
        pub.open_session("s1")
        sub = Command(
            "radio-sub",
            "-e",
            pub.endpoint,
            "-c",
            "c",
            "-s",
            "s1",
            "--max-message-size",
            "100",
            "--metrics",
            "127.0.0.1:0",
        )
        commands.append(sub)
        url = str(sub.wait_for("metrics_serving")["url"])
        assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        pub.send("s1", b"a")
        pub.send("s1", b"b" * 300)
        pub.send("s1", b"c")
        samples = scraped(url, "radio_subscriber_received_messages_total", 2, channel="c")
        assert (
            value(samples, "radio_subscriber_lost_messages_total", channel="c", reason="oversize")
            == 1
        )
        pub.close_session("s1")  # radio-sub -s exits once its sessions end
        assert sub.proc.wait(timeout=DEADLINE_S) == 0


def test_radio_relay_metrics(commands: list[Command], tmp_path: Path) -> None:
    """radio-relay --metrics counts the subscribers behind it by session."""
    with Publisher(f"ipc://{tmp_path}/pub.sock", channel="c") as pub:
        backend = f"ipc://{tmp_path}/relay.sock"
        relay = Command(
            "radio-relay",
            "--frontend",
            pub.endpoint,
            "--backend",
            backend,
            "--metrics",
            "127.0.0.1:0",
        )
        commands.append(relay)
        url = str(relay.wait_for("metrics_serving")["url"])  # after relay_started
        pub.open_session("s1")
        with Subscriber(backend, channel="c") as sub:
            sub.tune_in("s1")
            scraped(url, "radio_relay_session_listeners", 1, channel="c", session="s1")
            assert pub.wait_for_listener("s1", timeout=DEADLINE_S)
        relay.proc.terminate()
        assert relay.proc.wait(timeout=DEADLINE_S) == 143


@pytest.mark.parametrize("command", ["pub", "sub", "relay"])
def test_every_command_offers_metrics(command: str) -> None:
    from click.testing import CliRunner
    from radio.cli import pub, relay, sub

    main = {"pub": pub, "sub": sub, "relay": relay}[command].command
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "--metrics HOST:PORT" in result.stdout
    assert "radio-zmq[metrics]" in result.stdout


def test_a_command_names_a_bad_or_taken_metrics_address() -> None:
    bad = subprocess.run(
        [str(BIN / "radio-pub"), "--metrics", "localhost", "x"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2
    assert "invalid metrics address 'localhost': expected HOST:PORT" in bad.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = subprocess.run(
            [
                str(BIN / "radio-pub"),
                "-e",
                free_tcp_endpoint(),
                "--metrics",
                f"127.0.0.1:{port}",
                "x",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert busy.returncode == 1
    assert f"cannot serve metrics on '127.0.0.1:{port}'" in busy.stderr
    assert "Traceback" not in busy.stderr


# -- the docs -------------------------------------------------------------------------------


def test_the_operations_page_lists_every_metric() -> None:
    page = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    missing = [name for name in METRICS if f"`{name}`" not in page]
    assert not missing, f"docs/operations.md does not list {missing}"
    assert "radio.serve_metrics" in page or "serve_metrics" in page
    assert isinstance(radio.MetricsServer, type)
    assert MetricsServer is radio.MetricsServer
