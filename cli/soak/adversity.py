"""Hostile-load measurements: a flood of unknown CURVE keys and a flood of desk joins."""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq

from radio import CurveClient, CurveServer, Publisher, Subscriber, create_keys

KNOCKERS_OPEN: Final[int] = 50
"""Unknown-key sockets kept connected at once during a knock flood (the oldest closes)."""

DEADLINE_S: Final[float] = 20.0


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


class _SendWatch:
    """Sends on a session as fast as it can and keeps the longest single `send` call."""

    def __init__(self, pub: Publisher, session: str) -> None:
        self.longest = 0.0
        self.sends = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(pub, session), daemon=True)

    def __enter__(self) -> _SendWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self, pub: Publisher, session: str) -> None:
        clock = time.perf_counter
        payload = b"x" * 100
        while not self._stop.is_set():
            for _ in range(100):
                start = clock()
                pub.send(session, payload)
                took = clock() - start
                self.longest = max(self.longest, took)
            self.sends += 100
            time.sleep(0.0005)  # sync-ok: paces the sender so the flood gets its share


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
            with _SendWatch(pub, session) as watch:
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
                "unknown CURVE keys",
                rate,
                seconds,
                attempts,
                watch.longest * 1000,
                watch.sends,
                admitted,
            )


def _tuned(sub: Subscriber) -> Subscriber:
    sub.tune_in("s")
    return sub
