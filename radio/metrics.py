"""Prometheus metrics: a collector reading radio's live counters, and its HTTP server."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, NamedTuple

from radio.core.tally import Tally
from radio.errors import EndpointError, InvalidSettingError, MetricsUnavailableError
from radio.logs import get_logger
from radio.message import Loss, Stats
from radio.owner import Closable
from radio.publisher import Publisher
from radio.relay import Relay, RelayCounters
from radio.subscriber import Subscriber

if TYPE_CHECKING:  # prometheus_client is optional: imported when metrics are served
    from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import CollectorRegistry

log = get_logger()

INSTALL_HINT: Final[str] = "pip install 'radio-zmq[metrics]'"
"""What to run when prometheus_client is missing."""

Source = Publisher | Relay | Subscriber
"""What a collector reads: its counters, at each scrape."""


class Spec(NamedTuple):
    """One metric: its type (``counter`` or ``gauge``), its help text and its labels."""

    kind: str
    help: str
    labels: tuple[str, ...] = ("channel",)


_SESSION: Final = ("channel", "session")
_CURVE_ON: Final = "(with CURVE only)"

METRICS: Final[dict[str, Spec]] = {
    # -- a publisher
    "radio_publisher_session_listeners": Spec(
        "gauge", "Subscribers tuned in to the session (behind relays too).", _SESSION
    ),
    "radio_publisher_channel_listeners": Spec(
        "gauge", "Subscribers connected to the channel, in any session or none."
    ),
    "radio_publisher_open_sessions": Spec("gauge", "Sessions open now (desk clients' too)."),
    "radio_publisher_sessions_opened_total": Spec("counter", "Sessions opened."),
    "radio_publisher_sessions_closed_total": Spec("counter", "Sessions closed (ended)."),
    "radio_publisher_messages_sent_total": Spec("counter", "Messages sent (numbered)."),
    "radio_publisher_dropped_frames_total": Spec(
        "counter", "Data frames dropped while they waited for a busy socket (hwm)."
    ),
    "radio_publisher_desk_clients": Spec("gauge", "Clients the session desk keeps now."),
    "radio_publisher_desk_joins_total": Spec(
        "counter", "Desk requests answered with a fresh session."
    ),
    "radio_publisher_desk_refusals_total": Spec("counter", "Desk requests refused."),
    "radio_publisher_desk_evictions_total": Spec(
        "counter", "Desk clients evicted (their session closed) to make room for a newcomer."
    ),
    "radio_publisher_presence_refusals_total": Spec(
        "counter", "Presence joins refused at a cap (total or per key)."
    ),
    "radio_publisher_curve_admissions_total": Spec(
        "counter", f"CURVE handshakes whose client key was allowed {_CURVE_ON}."
    ),
    "radio_publisher_curve_refusals_total": Spec(
        "counter", f"CURVE handshakes whose client key was refused {_CURVE_ON}."
    ),
    # -- a relay
    "radio_relay_session_listeners": Spec(
        "gauge", "Subscribers behind the relay tuned in to the session.", _SESSION
    ),
    "radio_relay_channel_listeners": Spec(
        "gauge", "Subscribers behind the relay connected to the channel."
    ),
    "radio_relay_forwarded_messages_total": Spec("counter", "Messages forwarded downstream.", ()),
    "radio_relay_forwarded_bytes_total": Spec("counter", "Bytes forwarded downstream.", ()),
    "radio_relay_presence_refusals_total": Spec(
        "counter", "Presence joins refused at a cap (not forwarded upstream).", ()
    ),
    "radio_relay_curve_admissions_total": Spec(
        "counter", f"Downstream CURVE handshakes whose key was allowed {_CURVE_ON}.", ()
    ),
    "radio_relay_curve_refusals_total": Spec(
        "counter", f"Downstream CURVE handshakes whose key was refused {_CURVE_ON}.", ()
    ),
    # -- a subscriber
    "radio_subscriber_received_messages_total": Spec("counter", "Messages heard and accepted."),
    "radio_subscriber_lost_messages_total": Spec(
        "counter",
        "Messages of heard sessions not yielded, by reason: " + ", ".join(Loss) + ".",
        ("channel", "reason"),
    ),
    "radio_subscriber_malformed_frames_total": Spec(
        "counter", "Frames that were not valid radio messages."
    ),
    "radio_subscriber_unknown_tails_total": Spec(
        "counter", "Publisher instances that stopped without an END and were followed by another."
    ),
    "radio_subscriber_conflicting_beacons_total": Spec(
        "counter", "Beacons of a second publisher on the channel, ignored."
    ),
    "radio_subscriber_clock_offset_seconds": Spec(
        "gauge", "This machine's wall clock minus the publisher's (estimated from beacons)."
    ),
    "radio_subscriber_on_air": Spec("gauge", "1 while the publisher's beacons arrive, else 0."),
}
"""Every metric radio serves, by name (docs/operations.md lists them)."""


def _prometheus_core() -> tuple[type[CounterMetricFamily], type[GaugeMetricFamily]]:
    """prometheus_client's counter and gauge families; `MetricsUnavailableError` if missing."""
    try:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError:
        raise MetricsUnavailableError(
            f"metrics need prometheus_client, which is not installed: {INSTALL_HINT}"
        ) from None
    return CounterMetricFamily, GaugeMetricFamily


class _Families:
    """The families of one scrape, made on first use, in the order of `METRICS`."""

    def __init__(self) -> None:
        self._counter, self._gauge = _prometheus_core()
        self._made: dict[str, CounterMetricFamily | GaugeMetricFamily] = {}

    def add(self, name: str, value: float, *labels: str) -> None:
        family = self._made.get(name)
        if family is None:
            spec = METRICS[name]
            kind = self._counter if spec.kind == "counter" else self._gauge
            family = self._made[name] = kind(name, spec.help, labels=spec.labels)
        family.add_metric(list(labels), value)

    def done(self) -> list[Metric]:
        return [self._made[name] for name in METRICS if name in self._made]


class RadioCollector:
    """A prometheus_client collector of radio objects: reads their counters at each scrape.

    Give it publishers, relays and subscribers (`add` more later): each scrape
    reads each one's live counters (`Publisher.counters`, `Relay.counters`,
    `Subscriber.stats`), under their own locks, so nothing is counted twice and
    no number is kept here. Register it with any ``CollectorRegistry``, or let
    `serve_metrics` serve it. Creating one needs no prometheus_client; collecting does.
    """

    def __init__(self, *sources: Source) -> None:
        self._sources: tuple[Source, ...] = ()
        for source in sources:
            self.add(source)

    def add(self, source: Source) -> None:
        """Read *source*'s counters too from the next scrape on."""
        if not isinstance(source, (Publisher, Relay, Subscriber)):
            raise InvalidSettingError(
                f"cannot collect metrics of {source!r}: expected a Publisher, Relay or Subscriber"
            )
        self._sources = (*self._sources, source)

    def collect(self) -> Iterator[Metric]:
        """The metrics as they are now (prometheus_client's collector hook)."""
        families = _Families()
        for source in self._sources:
            if isinstance(source, Publisher):
                _publisher(families, source.counters())
            elif isinstance(source, Relay):
                _relay(families, source.counters())
            else:
                _subscriber(families, source.channel, source.stats, source.on_air)
        return iter(families.done())


def _publisher(families: _Families, tally: Tally) -> None:
    channel = tally.channel
    for session, listeners in sorted(tally.listeners.items()):
        families.add("radio_publisher_session_listeners", listeners, channel, session)
    add = families.add
    add("radio_publisher_channel_listeners", tally.channel_listeners, channel)
    add("radio_publisher_open_sessions", tally.open_sessions, channel)
    add("radio_publisher_sessions_opened_total", tally.sessions_opened, channel)
    add("radio_publisher_sessions_closed_total", tally.sessions_closed, channel)
    add("radio_publisher_messages_sent_total", tally.messages_sent, channel)
    add("radio_publisher_dropped_frames_total", tally.dropped, channel)
    add("radio_publisher_desk_clients", tally.desk_clients, channel)
    add("radio_publisher_desk_joins_total", tally.desk_joins, channel)
    add("radio_publisher_desk_refusals_total", tally.desk_refusals, channel)
    add("radio_publisher_desk_evictions_total", tally.desk_evictions, channel)
    add("radio_publisher_presence_refusals_total", tally.presence_refusals, channel)
    if tally.curve is not None:
        add("radio_publisher_curve_admissions_total", tally.curve[0], channel)
        add("radio_publisher_curve_refusals_total", tally.curve[1], channel)


def _relay(families: _Families, counters: RelayCounters) -> None:
    add = families.add
    for (channel, session), listeners in sorted(
        counters.listeners.items(), key=lambda item: (item[0][0], item[0][1] or "")
    ):
        if session is None:
            add("radio_relay_channel_listeners", listeners, channel)
        else:
            add("radio_relay_session_listeners", listeners, channel, session)
    add("radio_relay_forwarded_messages_total", counters.messages)
    add("radio_relay_forwarded_bytes_total", counters.bytes)
    add("radio_relay_presence_refusals_total", counters.presence_refusals)
    if counters.curve is not None:
        add("radio_relay_curve_admissions_total", counters.curve[0])
        add("radio_relay_curve_refusals_total", counters.curve[1])


def _subscriber(families: _Families, channel: str, stats: Stats, on_air: bool) -> None:
    add = families.add
    add("radio_subscriber_received_messages_total", stats.received, channel)
    for loss in Loss:
        add("radio_subscriber_lost_messages_total", getattr(stats, loss.value), channel, loss.value)
    add("radio_subscriber_malformed_frames_total", stats.malformed, channel)
    add("radio_subscriber_unknown_tails_total", stats.unknown_tails, channel)
    add("radio_subscriber_conflicting_beacons_total", stats.conflicts, channel)
    add("radio_subscriber_clock_offset_seconds", stats.clock_offset, channel)
    add("radio_subscriber_on_air", 1.0 if on_air else 0.0, channel)


def parse_metrics_address(value: object) -> tuple[str, int]:
    """The host and port of ``HOST:PORT`` (IPv6 in brackets: ``[::1]:9464``; port 0: any).

    Raises `InvalidSettingError` naming the value and what is wrong.
    """
    if not isinstance(value, str):
        raise InvalidSettingError(f"invalid metrics address {value!r}: expected HOST:PORT")
    host, colon, port = value.rpartition(":")
    reason = None
    if not colon or not host:
        reason = "expected HOST:PORT, e.g. 127.0.0.1:9464"
    elif not (port.isascii() and port.isdigit() and int(port) <= 65535):
        reason = f"port {port!r} is not a number from 0 to 65535"
    elif host.startswith("[") != host.endswith("]"):
        reason = "unbalanced brackets around the host"
    elif host.startswith("["):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            reason = f"{host!r} in brackets is not an IPv6 address"
    elif ":" in host:
        reason = "put an IPv6 host in brackets, e.g. [::1]:9464"
    elif any(c.isspace() or c in "/?#@" for c in host):
        reason = f"{host!r} is not a host name or address"
    if reason is not None:
        raise InvalidSettingError(f"invalid metrics address {value!r}: {reason}")
    return host, int(port)


def validate_metrics_address(value: object) -> str:
    """Return *value* if it is a valid ``HOST:PORT`` to serve metrics on, else raise."""
    parse_metrics_address(value)
    assert isinstance(value, str)
    return value


class MetricsServer(Closable):
    """Serves Prometheus text at ``http://HOST:PORT/metrics`` from its own thread.

    It has a registry of its own (radio's metrics only, not the process's default
    one) holding its `collector`; ``address`` is where it listens (port 0 replaced
    by the port it got) and ``url`` its metrics page. `close` (or leaving the
    ``with`` block) stops it.
    """

    def __init__(self, address: str, *sources: Source) -> None:
        host, port = parse_metrics_address(address)
        self.collector = RadioCollector(*sources)
        _prometheus_core()  # a clear error first, if prometheus_client is missing
        from prometheus_client import CollectorRegistry, start_http_server

        self.registry: CollectorRegistry = CollectorRegistry(auto_describe=False)
        self.registry.register(self.collector)
        try:
            self._server, self._thread = start_http_server(port, host, registry=self.registry)
        except OSError as exc:  # in use, not an address of this machine, unknown host...
            reason = exc.strerror or str(exc)
            raise EndpointError(
                exc.errno, f"cannot serve metrics on {address!r}: {reason}"
            ) from None
        port = int(self._server.server_address[1])
        self.host = host
        self.port = port
        self.address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        self.url = f"http://{self.address}/metrics"
        log.info("metrics_serving", address=self.address, url=self.url)

    def add(self, source: Source) -> None:
        """Serve *source*'s metrics too."""
        self.collector.add(source)

    def close(self) -> None:
        """Stop serving and free the port (waits for a scrape in progress)."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        log.info("metrics_closed", address=self.address)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "serving"
        return f"<MetricsServer {state} {self.url}>"


def serve_metrics(address: str, *sources: Source) -> MetricsServer:
    """Serve the metrics of *sources* (publishers, relays, subscribers) at ``address``.

    ``address`` is ``HOST:PORT`` (``127.0.0.1:9464``; ``[::1]:9464``; port 0 takes
    any free one: see ``MetricsServer.address``). Metrics are read from the objects
    at each scrape; see docs/operations.md for the list. Needs prometheus_client
    (``pip install 'radio-zmq[metrics]'``): raises `MetricsUnavailableError` without
    it, `InvalidSettingError` for a bad address, `EndpointError` when the port
    cannot be had.
    """
    return MetricsServer(address, *sources)
