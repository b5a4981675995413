"""Hostile-load measurement of desk eviction: a newcomer finds every unlistened client."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final

import zmq

from radio import DeskError, Publisher, Subscriber
from radio.core.names import marker_topic, session_topic
from radio.desk import ask
from tools.soak.adversity_desk import DEADLINE_S
from tools.soak.bounds import Row, seconds, waited

HEARD: Final[int] = 64
"""Clients listened to, joined first (issue 18: eviction looked at the oldest 64 only)."""

UNHEARD: Final[int] = 36
"""Clients nobody listens to, joined after them: the desk (of HEARD + UNHEARD) is full."""

COUNTED_BOUND_S: Final[float] = 1.0
"""Longest the newcomer may take, from its request to being counted."""


@dataclass(frozen=True)
class EvictionFigures:
    """Whether the newcomer got in, how soon it was counted, and whom it displaced."""

    heard: int
    unheard: int
    admitted: bool
    counted_s: float  # from the newcomer's request until the publisher counted it; inf: never
    evicted: tuple[str, ...]  # the clients no longer at the desk afterwards
    heard_kept: int  # listened clients still at the desk afterwards

    @property
    def met(self) -> bool:
        return (
            self.admitted
            and self.counted_s < COUNTED_BOUND_S
            and self.heard_kept == self.heard
            and self.evicted == (f"c{self.heard}",)
        )

    def row(self) -> Row:
        evicted = ", ".join(self.evicted) or "none"
        return Row(
            f"desk eviction: {self.heard} listened clients, then {self.unheard} unlistened "
            f"(desk of {self.heard + self.unheard}), then a newcomer",
            f"{'admitted' if self.admitted else 'refused'}, counted in "
            f"{seconds(self.counted_s)}; evicted {evicted}; {self.heard_kept} of "
            f"{self.heard} listened kept",
            f"admitted, counted within {seconds(COUNTED_BOUND_S)}; the oldest unlistened "
            f"(c{self.heard}) evicted, every listened client kept",
            self.met,
        )


def desk_eviction(heard: int = HEARD, unheard: int = UNHEARD) -> EvictionFigures:
    """Fill a desk with *heard* listened clients then *unheard* unlistened ones; a newcomer.

    Each client joins over its own connection (a peer of its own: no quota bites);
    one raw SUB listens to the first *heard* sessions (a presence marker each).
    """
    with Publisher(
        "tcp://127.0.0.1:*",
        channel="evict",
        desk="tcp://127.0.0.1:*",
        max_desk_clients=heard + unheard,
    ) as pub:
        assert pub.desk is not None
        listener: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        listener.setsockopt(zmq.LINGER, 0)
        listener.connect(pub.endpoint)
        try:
            listened = []
            for i in range(heard + unheard):
                session = ask(pub.desk, f"c{i}").session
                if i < heard:
                    topic = session_topic(pub.channel, session)
                    listener.setsockopt(zmq.SUBSCRIBE, marker_topic(topic, b"l%d" % i))
                    listened.append(session)
            if waited(lambda: all(pub.listeners(s) for s in listened), DEADLINE_S) > DEADLINE_S:
                raise RuntimeError("the listened clients were not all counted")
            admitted, counted_s = _newcomer(pub, pub.desk)
            names = [f"c{i}" for i in range(heard + unheard)]
            evicted = tuple(name for name in names if pub.desk_session(name) is None)
            kept = sum(pub.desk_session(name) is not None for name in names[:heard])
        finally:
            listener.close()
    return EvictionFigures(heard, unheard, admitted, counted_s, evicted, kept)


def _newcomer(pub: Publisher, desk: str) -> tuple[bool, float]:
    """Whether a newcomer's join was admitted, and how long from its request until counted."""
    start = time.monotonic()
    try:
        with Subscriber.join(desk, "newcomer") as sub:
            session = next(iter(sub.sessions))
            if not pub.wait_for_listener(session, timeout=DEADLINE_S):
                return True, float("inf")
            return True, time.monotonic() - start
    except DeskError:
        return False, float("inf")
