"""Hostile-load measurements: floods, desk joins, forged presence and issue 18, with bounds."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import click
import zmq

from radio import CurveClient, CurveServer, Publisher, Subscriber, create_keys
from radio.core.desk import MAX_DESK_CLIENTS_PER_KEY, encode_request
from radio.core.names import session_topic
from tools.cli import configure_logging
from tools.soak.adversity_allow import allow_list_fifo
from tools.soak.adversity_desk import DEADLINE_S, HONEST_BOUND_S, LockFigures, desk_lock
from tools.soak.adversity_eviction import desk_eviction
from tools.soak.adversity_full import full_subscribers
from tools.soak.adversity_peers import close_churn, lying_heads
from tools.soak.adversity_relay import relay_burst, relay_flood
from tools.soak.bounds import Bounded, Row, broken, seconds, table
from tools.soak.main import _rss  # one reading of resident memory for both tools
from tools.soak.xpub_stall import (
    P99_FACTOR,
    PAYLOAD,
    REPEATS,
    Flooder,
    SendTimes,
    StallFigures,
    bound_met,
    compare,
    wait_for,
)

KNOCKERS_OPEN: Final[int] = 50
"""Unknown-key sockets kept connected at once during a knock flood (the oldest closes)."""


@dataclass(frozen=True)
class FloodFigures:
    """What a flood cost: the longest `send`, and how long an honest client waited."""

    flood: str
    rate: float
    seconds: float
    attempts: int
    longest_send_ms: float
    sends: int
    admitted_s: list[float]

    @property
    def admitted_median_s(self) -> float:
        return statistics.median(self.admitted_s)

    @property
    def admitted_max_s(self) -> float:
        return max(self.admitted_s)


def _sending(pub: Publisher, session: str) -> SendTimes:
    """A thread sending 100-byte messages on *session* in bursts, timing each `send`."""
    return SendTimes(lambda: pub.send(session, PAYLOAD), lambda: None)


def _paced(rate: float, seconds: float, stop: threading.Event) -> Iterator[int]:
    """Yield 0, 1, 2, ... at *rate* per second for *seconds* (or until *stop*)."""
    start = time.monotonic()
    count = 0
    while not stop.is_set() and time.monotonic() - start < seconds:
        due = start + count / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # sync-ok: pacing the flood, not synchronising
        yield count
        count += 1


def _admission_times(
    pub: Publisher,
    join: Callable[[], Subscriber],
    session_of: Callable[[Subscriber], str],
    times: int,
    stop: threading.Event,
) -> list[float]:
    """Let an honest subscriber join *times* times; how long until the publisher counts it."""
    took = []
    for _ in range(times):
        if stop.is_set():
            break
        start = time.monotonic()
        with join() as sub:
            session = session_of(sub)
            if not pub.wait_for_listener(session, timeout=DEADLINE_S):
                took.append(float("inf"))
            else:
                took.append(time.monotonic() - start)
    return took


def knock_flood(rate: float = 200.0, seconds: float = 10.0, keys: int = 1000) -> FloodFigures:
    """Measure a flood of unknown CURVE keys: *rate* connects a second for *seconds*.

    Meanwhile an allowed subscriber joins again and again and a thread sends;
    the allow-list holds *keys* keys, so that a re-read would be expensive.
    """
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server_public, server_secret = create_keys(folder / "server", "server")
        allowed = folder / "allowed"
        client_public, client_secret = create_keys(folder / "client", "client")
        allowed.mkdir()
        (allowed / "client.key").write_bytes(client_public.read_bytes())
        for i in range(keys - 1):  # a big allow-list makes a re-read expensive
            public, _ = zmq.curve_keypair()
            (allowed / f"k{i}.key").write_text(f'curve\n    public-key = "{public.decode()}"\n')
        server = CurveServer.from_files(server_secret, str(allowed))
        client = CurveClient.from_files(client_secret, server_public)
        with Publisher("tcp://127.0.0.1:*", channel="flood", security=server) as pub:
            session = pub.open_session("s")
            stop = threading.Event()
            attempts = 0

            def flood() -> None:
                nonlocal attempts
                ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
                open_: deque[zmq.Socket[bytes]] = deque()
                try:
                    for _ in _paced(rate, seconds, stop):
                        sock = ctx.socket(zmq.SUB)
                        public, secret = zmq.curve_keypair()
                        sock.curve_serverkey = server.public_key
                        sock.curve_publickey, sock.curve_secretkey = public, secret
                        sock.linger = 0
                        sock.connect(pub.endpoint)
                        open_.append(sock)
                        attempts += 1
                        if len(open_) > KNOCKERS_OPEN:
                            open_.popleft().close()
                finally:
                    for sock in open_:
                        sock.close()

            flooder = threading.Thread(target=flood, daemon=True)
            with _sending(pub, session) as watch:
                flooder.start()
                time.sleep(min(1.0, seconds / 4))  # sync-ok: let the flood build up first
                admitted = _admission_times(
                    pub,
                    lambda: _tuned(Subscriber(pub.endpoint, channel="flood", security=client)),
                    lambda sub: session,
                    times=5,
                    stop=stop,
                )
                flooder.join()
            return FloodFigures(
                f"{keys:,} keys allowed",
                rate,
                seconds,
                attempts,
                max(watch.times) * 1000,
                len(watch.times),
                admitted,
            )


def _tuned(sub: Subscriber) -> Subscriber:
    sub.tune_in("s")
    return sub


def desk_flood(joins: int = 10_000, max_clients: int = 1000) -> FloodFigures:
    """Measure a flood of desk joins with made-up client names, as fast as they go.

    Meanwhile a thread sends, and an honest client joins the desk five times.
    """
    with Publisher(
        "tcp://127.0.0.1:*",
        channel="flood",
        desk="tcp://127.0.0.1:*",
        max_desk_clients=max_clients,
    ) as pub:
        session = pub.open_session("s")
        desk = pub.desk
        stop = threading.Event()
        start = time.monotonic()

        def flood() -> None:
            sock: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.DEALER)
            sock.connect(desk)
            try:
                for i in range(joins):
                    sock.send_multipart([b"", encode_request(f"rogue-{i}")])
                    if i % 500 == 0:  # keep up with the answers: the desk's queue is bounded
                        while sock.poll(0):
                            sock.recv_multipart()
                deadline = time.monotonic() + DEADLINE_S
                while pub.desk_session(f"rogue-{joins - 1}") is None:
                    if time.monotonic() > deadline:
                        break
                    sock.poll(10)
                    while sock.poll(0):
                        sock.recv_multipart()
            finally:
                sock.close(linger=0)

        flooder = threading.Thread(target=flood, daemon=True)
        with _sending(pub, session) as watch:
            flooder.start()
            admitted = _admission_times(
                pub,
                lambda: Subscriber.join(desk, "honest"),
                lambda sub: next(iter(sub.sessions)),
                times=5,
                stop=stop,
            )
            flooder.join()
        return FloodFigures(
            "desk joins",
            0.0,
            time.monotonic() - start,
            joins,
            max(watch.times) * 1000,
            len(watch.times),
            admitted,
        )


def presence_flood(markers: int = 200_000) -> tuple[FloodFigures, int, float]:
    """Measure a flood of forged presence subscriptions (made-up listener IDs).

    They come from another process (`tools.soak.flooder`). Without CURVE peers
    cannot be told apart, so a full cap refuses honest listeners too, until the
    flood's connection ends: the honest client is timed from the moment the
    flooding peer leaves. Returns the figures, how many were refused at the cap,
    and the publisher's growth in MiB (resident memory).
    """
    with Publisher("tcp://127.0.0.1:*", channel="flood") as pub:
        session = pub.open_session("s")
        presence = pub._core.presence
        before = _rss()
        start = time.monotonic()
        topic = session_topic("flood", "flooded")  # the honest client tunes in to "s"
        with Flooder(pub.endpoint, topic, markers) as flooder, _sending(pub, session) as watch:
            flooder.expect("sent")
            wait_for(lambda: presence.size + presence.refused >= markers, "the flood heard")
            growth = (_rss() - before) / 2**20
            flooder.leave()  # its listeners go with its connection
            admitted = _admission_times(
                pub,
                lambda: _tuned(Subscriber(pub.endpoint, channel="flood")),
                lambda sub: session,
                times=1,
                stop=threading.Event(),
            )
        figures = FloodFigures(
            "forged presence subscriptions",
            0.0,
            time.monotonic() - start,
            markers,
            max(watch.times) * 1000,
            len(watch.times),
            admitted,
        )
        return figures, presence.refused, growth


START: Final[str] = "<!-- adversity:start -->"
END: Final[str] = "<!-- adversity:end -->"


def render(
    knock: FloodFigures,
    desk: FloodFigures,
    presence: tuple[FloodFigures, int, float],
    lock: LockFigures,
    stalls: tuple[StallFigures, StallFigures],
    rows: list[Row],
) -> str:
    """The Markdown block written into docs/security.md; *rows*: `bounded_rows`."""
    forged, refused, growth = presence
    raw, ours = stalls
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        START,
        "Measured by `make adversity` (`python -m tools.soak.adversity`)"
        f" on {when}, on this machine "
        "(2 cores); a thread sent 100-byte messages as fast as it could meanwhile, and "
        "an honest client joined while each flood ran.",
        "",
        "| flood | size | honest client counted (median / max) | longest `send()` |",
        "|---|---|---|---|",
        f"| unknown CURVE keys, {knock.rate:.0f}/s for {knock.seconds:.0f} s, {knock.flood} "
        f"| {knock.attempts:,} connects | {_ms(knock.admitted_median_s)} / "
        f"{_ms(knock.admitted_max_s)} | {knock.longest_send_ms:.1f} ms |",
        f"| desk joins with made-up names (desk of 1,000) | {desk.attempts:,} joins in "
        f"{desk.seconds:.1f} s | {_ms(desk.admitted_median_s)} / {_ms(desk.admitted_max_s)} "
        f"| {desk.longest_send_ms:.1f} ms |",
        f"| forged presence subscriptions (cap 100,000) | {forged.attempts:,} "
        f"({refused:,} refused) | {_ms(forged.admitted_median_s)} after the flooder left "
        f"| {forged.longest_send_ms:.1f} ms |",
        "",
        f"Desk lock (issue 18): one allowed key joined {lock.joins:,} made-up names in "
        f"{lock.seconds:.1f} s, listening to each session it got; it kept {lock.kept:,} "
        f"(its quota), {lock.refused:,} were refused, and {lock.honest_admitted} of "
        f"{len(lock.honest_s)} honest joins of another key got in and were counted "
        f"(median {_ms(lock.honest_median_s)}, max {_ms(lock.honest_max_s)}).",
        "",
        f"Publisher growth during the presence flood: {growth:+.1f} MiB.",
        "",
        f"The same presence flood ({raw.subscriptions:,} forged subscriptions from another "
        f"process, then the flooder leaves), {REPEATS} runs each, raw libzmq and radio in "
        "turn, pooled (`python -m tools.soak.xpub_stall`). Raw: an XPUB set up as radio's, "
        "whose one thread sends in bursts and reads the subscription events between them; "
        "radio: a `Publisher` and the same sending thread, radio's service thread reading "
        "the events.",
        "",
        "| | sends | longest `send()` | p99 `send()` | longest call (`send` or `recv`) |",
        "|---|---|---|---|---|",
        *(
            f"| {run.who} | {run.sends:,} | {run.longest_send_s * 1000:.1f} ms "
            f"| {run.p99_send_s * 1000:.3f} ms | {run.longest_call_s * 1000:.1f} ms |"
            for run in (raw, ours)
        ),
        "",
        "Every scenario `make adversity` holds to a bound (it exits 1 when one is not met); "
        "the issue 18 findings run at scale, each beside its figure:",
        "",
        *table(rows),
        END,
    ]
    return "\n".join(lines)


def lock_row(lock: LockFigures) -> Row:
    """The desk lock's row: the rogue key kept its quota, every honest join was counted."""
    return Row(
        f"desk lock: one allowed key joins {lock.joins:,} made-up names, listening to each",
        f"it kept {lock.kept:,}, {lock.refused:,} refused; {lock.honest_admitted} of "
        f"{len(lock.honest_s)} honest joins counted (max {_ms(lock.honest_max_s)})",
        f"kept at most {MAX_DESK_CLIENTS_PER_KEY:,}; every honest join counted within "
        f"{seconds(HONEST_BOUND_S)}",
        lock.kept <= MAX_DESK_CLIENTS_PER_KEY and lock.honest_admitted == len(lock.honest_s),
    )


def stall_rows(raw: StallFigures, ours: StallFigures) -> list[Row]:
    """The send stall's two rows under the presence flood, radio beside raw libzmq."""
    longest_met, p99_met = bound_met(raw, ours)
    flood = f"send stall under {raw.subscriptions:,} forged subscriptions, {REPEATS} runs"
    return [
        Row(
            f"{flood}: longest",
            f"radio {ours.longest_send_s * 1000:.1f} ms, raw's longest call "
            f"{raw.longest_call_s * 1000:.1f} ms",
            "radio's longest send no longer than raw's longest call",
            longest_met,
        ),
        Row(
            f"{flood}: p99",
            f"radio {ours.p99_send_s * 1000:.3f} ms, raw {raw.p99_send_s * 1000:.3f} ms",
            f"radio's p99 send within {P99_FACTOR:.0f}x raw's",
            p99_met,
        ),
    ]


def _ms(seconds: float) -> str:
    return "never" if seconds == float("inf") else f"{seconds * 1000:.0f} ms"


def write(page: Path, block: str) -> None:
    """Replace the marked block in *page* (appended at the end when missing)."""
    text = page.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    page.write_text(text)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("docs"))
@click.option(
    "--quick", is_flag=True, help="Small floods and fewer runs: proves the harness in seconds."
)
def command(out: Path, quick: bool) -> None:
    """Flood a publisher with strangers' keys, desk joins and forged presence.

    Then one allowed key tries to lock the desk, and the other findings of issue
    18 run at scale (desk eviction, floods and bursts through relays, full
    subscribers, lying two-part heads, close() under churn, the allow-list). The
    figures go into OUT/security.md, between its adversity markers. Exits 1,
    naming each one, when a scenario's bound is not met (the table's last column;
    the send stall's bounds are `bound_met`).
    """
    configure_logging("console", verbosity=-1)
    runs = 2 if quick else 5
    knock = knock_flood(200.0, 2.0 if quick else 10.0, 500 if quick else 5000)
    desk = desk_flood(1000 if quick else 10_000)
    presence = presence_flood(20_000 if quick else 200_000)
    lock = desk_lock(2000 if quick else 10_000)
    stalls = compare(20_000 if quick else 200_000, REPEATS)
    scenarios: list[Bounded] = [
        desk_eviction(),
        relay_flood(),
        relay_burst(),
        full_subscribers(runs),
        lying_heads(),
        close_churn(runs),
        allow_list_fifo(),
    ]
    rows = [lock_row(lock), *stall_rows(*stalls), *(scenario.row() for scenario in scenarios)]
    block = render(knock, desk, presence, lock, stalls, rows)
    write(out / "security.md", block)
    click.echo(block)
    failed = broken(rows)
    if failed:
        raise click.ClickException(f"{len(failed)} bound(s) not met:\n  " + "\n  ".join(failed))


def main() -> None:
    """Entry point of ``python -m tools.soak.adversity`` (``make adversity``)."""
    command(prog_name="python -m tools.soak.adversity")


if __name__ == "__main__":
    main()
