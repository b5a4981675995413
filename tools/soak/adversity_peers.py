"""Hostile-load measurements of raw peers: lying two-part heads, and churn while closing."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Final

import zmq

from radio import Message, Publisher, Subscriber
from radio.core.names import session_topic
from radio.core.wire import HEADER, encode_parts
from tools import child_env
from tools.soak.adversity_desk import DEADLINE_S
from tools.soak.bounds import Row, seconds, waited

CLOSE_LINGER_S: Final[float] = 1.0
"""The publisher's linger while the churn goes on."""

CLOSE_BOUND_S: Final[float] = CLOSE_LINGER_S + 1.0
"""Longest close() may take under the churn."""

CHURN_HEARD: Final[int] = 1000
"""Listener events the publisher must have seen before it closes: the churn reached it."""


@dataclass(frozen=True)
class LyingFigures:
    """What the subscriber made of honest messages with a liar's heads between them."""

    honest: int
    intact: int  # honest messages yielded, equal to what was sent
    garbage: int  # messages yielded that the publisher never sent
    in_order: bool  # what was yielded is exactly what was sent, in order
    lies: int  # the liar's heads, one per honest message
    lies_counted: int  # malformed counted meanwhile (a probe for the liar may add one)

    @property
    def met(self) -> bool:
        return self.in_order and self.garbage == 0 and self.lies_counted >= self.lies

    def row(self) -> Row:
        return Row(
            f"lying two-part heads from a raw peer, one before each of {self.honest:,} "
            "honest messages",
            f"{self.intact:,} intact{'' if self.in_order else ' (not all, or not in order)'}, "
            f"{self.garbage:,} garbage; {self.lies_counted:,} malformed counted for "
            f"{self.lies:,} lies",
            "every honest message yielded intact, 0 garbage, every lie counted as a drop",
            self.met,
        )


def lying_heads(honest: int = 2000) -> LyingFigures:
    """Measure lying two-part heads between *honest* messages of a real publisher.

    A raw PUB sends a parted head alone, announcing exactly an honest frame's
    length, before each one (issue 18: about a quarter were yielded as garbage).
    """
    topic = session_topic("c", "s")
    payloads = [b"honest %06d" % i for i in range(honest)]
    liar = encode_parts(topic, 7, 1.0, b"L" * (len(topic) + HEADER.size + len(payloads[0])))[0]
    rogue: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUB)
    rogue.setsockopt(zmq.LINGER, 0)
    try:
        with Subscriber("tcp://127.0.0.1:*", channel="c", bind=True, hwm=0) as sub:
            sub.tune_in("s")
            rogue.connect(sub.endpoint)

            def heard() -> bool:  # the liar probes until its connection is attached
                rogue.send(liar)
                return sub.recv(0.01) is None and sub.stats.malformed > 0

            if waited(heard, DEADLINE_S) == float("inf"):
                raise RuntimeError("the liar was never heard")
            rogue.setsockopt(zmq.SNDHWM, 0)
            before = sub.stats.malformed  # a probe still on its way may add one more
            got: list[Message] = []
            with Publisher(sub.endpoint, channel="c", bind=False, hwm=0) as pub:
                pub.open_session("s")
                if not pub.wait_for_listener("s", timeout=DEADLINE_S):
                    raise RuntimeError("the subscriber was never counted")
                for payload in payloads:
                    rogue.send(liar)
                    pub.send("s", payload)
                deadline = time.monotonic() + DEADLINE_S
                while len(got) < honest and time.monotonic() < deadline:
                    message = sub.recv(timeout=0.1)
                    if message is not None:
                        got.append(message)
                while (message := sub.recv(timeout=0.3)) is not None:  # nothing more comes
                    got.append(message)
            # a lie may trail its honest message (two connections): wait for the last
            waited(lambda: sub.stats.malformed - before >= honest, 1.0)
            counted = sub.stats.malformed - before
    finally:
        rogue.close()
    yielded = [m.payload for m in got]
    sent = set(payloads)
    intact = sum(payload in sent for payload in yielded)
    return LyingFigures(honest, intact, len(yielded) - intact, yielded == payloads, honest, counted)


@dataclass(frozen=True)
class ChurnFigures:
    """How long close() took, run by run, while a peer churned subscriptions."""

    close_s: tuple[float, ...]  # inf: still running at the bound

    @property
    def longest_s(self) -> float:
        return max(self.close_s)

    @property
    def stuck(self) -> int:
        return sum(took == float("inf") for took in self.close_s)

    @property
    def met(self) -> bool:
        return self.longest_s < CLOSE_BOUND_S

    def row(self) -> Row:
        return Row(
            f"close() (linger {CLOSE_LINGER_S:g} s) while a raw peer churns subscriptions "
            f"as fast as it can; {len(self.close_s)} runs",
            f"longest close {seconds(self.longest_s)}, "
            f"median {seconds(statistics.median(self.close_s))}"
            + (f"; {self.stuck} still running at the bound" if self.stuck else ""),
            f"within linger + 1 s ({seconds(CLOSE_BOUND_S)}) every run",
            self.met,
        )


def close_churn(runs: int = 5) -> ChurnFigures:
    """Time close() *runs* times while a peer churns subscriptions.

    Each run: a publisher with linger `CLOSE_LINGER_S`, a churning peer
    (`tools.soak.churner`) in another process, then close() timed.
    """
    return ChurnFigures(tuple(_close_once() for _ in range(runs)))


def _close_once() -> float:
    heard = [0]  # listener events seen: the churn reaching the publisher
    pub = Publisher(
        "tcp://127.0.0.1:*",
        channel="c",
        linger=CLOSE_LINGER_S,
        on_listener=lambda event: heard.__setitem__(0, heard[0] + 1),
    )
    churner = subprocess.Popen(  # noqa: S603 - this interpreter, radio's own module
        [sys.executable, "-m", "tools.soak.churner", pub.endpoint, "c", "s"],
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    closer = threading.Thread(target=pub.close, daemon=True)
    try:
        pub.open_session("s")
        assert churner.stdout is not None
        if churner.stdout.readline().strip() != "ready":
            raise RuntimeError("the churner did not start")
        if not pub.wait_for_listener("s", timeout=DEADLINE_S):
            raise RuntimeError("the churner was never counted")
        if waited(lambda: heard[0] > CHURN_HEARD, DEADLINE_S) == float("inf"):
            raise RuntimeError("the churn never reached the publisher")
        start = time.monotonic()
        closer.start()
        closer.join(CLOSE_BOUND_S)
        return float("inf") if closer.is_alive() else time.monotonic() - start
    finally:
        churner.kill()  # ends the churn: an unbounded close (the bug) can then finish
        churner.wait()
        if closer.is_alive():
            closer.join(DEADLINE_S)
        pub.close()
