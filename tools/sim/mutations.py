"""Planted bugs: named mutations of the real cores, applied in-process by monkeypatching.

Each one breaks one guarantee the way a plausible slip would; the simulator must
catch every one on the fixed seed set (tests/sim/test_sim_mutations.py). Compiled
cores call each other directly, past any patch, so mutations need the pure-Python
cores: ``RADIO_PURE=1 python -m tools.sim.mutations`` checks every one (`check`).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, Final

import radio.compiled
from radio.core.air import ClockOffset
from radio.core.dial import Dial, Heard
from radio.core.ledger import Ledger
from radio.core.session import SessionState
from radio.core.switchboard import Switchboard
from radio.core.tuner import Tuner
from radio.core.wire import Beacon
from tools.sim.profile import Profile
from tools.sim.world import run_seed

_INF: Final[float] = float("inf")


def _no_fence_after_retune() -> list[tuple[Any, str, Any]]:
    """The tuner forgets to fence a re-tuned session until the HELLO (guarantee 1)."""
    original = Dial._new

    def _new(self: Dial, session: str, *, from_start: bool) -> Heard:
        entry = original(self, session, from_start=from_start)
        entry.awaiting = False
        return entry

    return [(Dial, "_new", _new)]


def _gap_not_counted() -> list[tuple[Any, str, Any]]:
    """The ledger moves past lost messages without counting them (guarantee 5)."""

    def lost(self: Ledger, heard: Heard, up_to: int, sent_at: float) -> None:
        heard.last_seq = max(heard.last_seq, up_to)

    return [(Ledger, "lost", lost)]


def _expired_not_counted() -> list[tuple[Any, str, Any]]:
    """The ledger drops expired messages without counting them (guarantee 5)."""

    def expired(self: Ledger, session: str, seq: int, ttl: float) -> None:
        return None

    return [(Ledger, "expired", expired)]


def _ttl_ignored() -> list[tuple[Any, str, Any]]:
    """The tuner's clock offset is pinned far off: nothing ever expires (guarantee 1, 8)."""

    def observe(self: ClockOffset, sent_at: float, arrived: float) -> float:
        self.value, self.bucket_min = 1e9, -_INF
        return 1e9

    return [(ClockOffset, "observe", observe)]


def _old_session_stays_live() -> list[tuple[Any, str, Any]]:
    """The transmitter never clears a superseded session's LIVE flag (guarantee 1)."""
    original = SessionState.label

    def label(self: SessionState, live: bool) -> None:
        original(self, True)

    return [(SessionState, "label", label)]


def _follower_head_uncounted() -> list[tuple[Any, str, Any]]:
    """A follower that moves never counts the head of the new session (guarantee 5)."""
    original = Dial.move_to

    def move_to(self: Dial, live: str | None, *, from_start: bool) -> Heard | None:
        return original(self, live, from_start=False)

    return [(Dial, "move_to", move_to)]


def _tail_unreported() -> list[tuple[Any, str, Any]]:
    """A session moves to a restarted instance without reporting the old tail (issue 17)."""

    def succeeded(self: Ledger, heard: Heard, instance: bytes) -> None:
        heard.succeed(instance, self._monotonic())

    return [(Ledger, "succeeded", succeeded)]


def _one_sample_moves_the_estimate() -> list[tuple[Any, str, Any]]:
    """Every sample below the estimate moves it at once: a forged stamp blinds TTLs."""
    original = ClockOffset.observe

    def observe(self: ClockOffset, sent_at: float, arrived: float) -> float:
        self._suspect = arrived - sent_at  # as if the sample before had agreed
        return original(self, sent_at, arrived)

    return [(ClockOffset, "observe", observe)]


def _ended_in_beacon_ignored() -> list[tuple[Any, str, Any]]:
    """The tuner skips a beacon's list of ended sessions (guarantee: END learned)."""
    original = Switchboard._beacon

    def _beacon(self: Switchboard, beacon: Beacon, sent_at: float, since: float | None) -> None:
        original(self, beacon._replace(ended=()), sent_at, since)

    return [(Switchboard, "_beacon", _beacon)]


def _return_counted_from_start() -> list[tuple[Any, str, Any]]:
    """A follower back on a session it heard (s1, s2, s1) counts it from 0 again."""
    original = Dial._new

    def _new(self: Dial, session: str, *, from_start: bool) -> Heard:
        self.away.pop(session, None)  # forgets how far it was heard
        return original(self, session, from_start=from_start)

    return [(Dial, "_new", _new)]


def _hello_zero_for_everyone() -> list[tuple[Any, str, Any]]:
    """A HELLO saying 0 (a publisher that lacks the session) is every instance's baseline."""

    def last_for(self: Heard, instance: bytes) -> int:
        if not self.instance and self.hello_from:
            return max(self.last_seq, 0)
        return self.last_seq

    return [(Heard, "last_for", last_for)]


def _batch_stays_live() -> list[tuple[Any, str, Any]]:
    """send_many's BATCH frames keep their LIVE flag after the session is superseded."""
    original = SessionState.label

    def label(self: SessionState, live: bool) -> None:
        kept = self.batch_prefix
        original(self, live)
        if not live:
            self.batch_prefix = kept

    return [(SessionState, "label", label)]


def _run_outlives_the_dial() -> list[tuple[Any, str, Any]]:
    """A read goes on with the last run of a session tuned out of or re-tuned since."""
    original = Tuner.continuation

    def continuation(self: Tuner) -> Any:
        went_on = self._went_on
        if went_on is not None:
            heard, _ = went_on
            awaiting, heard.awaiting = heard.awaiting, False
            saved = self.dial.heard.get(heard.topic)
            self.dial.heard[heard.topic] = heard
            try:
                return original(self)
            finally:
                heard.awaiting = awaiting
                if saved is None:
                    del self.dial.heard[heard.topic]
                else:
                    self.dial.heard[heard.topic] = saved
        return original(self)

    return [(Tuner, "continuation", continuation)]


def _ended_instance_heard_again() -> list[tuple[Any, str, Any]]:
    """A session tuned in to again after its END hears the instance that ended it (1)."""
    original = Dial._new

    def _new(self: Dial, session: str, *, from_start: bool) -> Heard:
        entry = original(self, session, from_start=from_start)
        enders = {ender for ender, _ in self.ended.get(session, ())}
        entry.retired = tuple(other for other in entry.retired if other not in enders)
        return entry

    return [(Dial, "_new", _new)]


MUTATIONS: Final[dict[str, Callable[[], list[tuple[Any, str, Any]]]]] = {
    "no_fence_after_retune": _no_fence_after_retune,
    "gap_not_counted": _gap_not_counted,
    "expired_not_counted": _expired_not_counted,
    "ttl_ignored": _ttl_ignored,
    "old_session_stays_live": _old_session_stays_live,
    "follower_head_uncounted": _follower_head_uncounted,
    "tail_unreported": _tail_unreported,
    "one_sample_moves_the_estimate": _one_sample_moves_the_estimate,
    "ended_in_beacon_ignored": _ended_in_beacon_ignored,
    "return_counted_from_start": _return_counted_from_start,
    "hello_zero_for_everyone": _hello_zero_for_everyone,
    "batch_stays_live": _batch_stays_live,
    "run_outlives_the_dial": _run_outlives_the_dial,
    "ended_instance_heard_again": _ended_instance_heard_again,
}
"""Every mutation by name."""


@contextlib.contextmanager
def mutated(name: str) -> Iterator[None]:
    """Apply mutation *name* to the real core classes for the duration of the block."""
    patches = MUTATIONS[name]()
    saved = [(owner, attribute, owner.__dict__[attribute]) for owner, attribute, _ in patches]
    try:
        for owner, attribute, replacement in patches:
            setattr(owner, attribute, replacement)
        yield
    finally:
        for owner, attribute, original in saved:
            setattr(owner, attribute, original)


CATCHING: Final[dict[str, tuple[Profile, tuple[int, ...]]]] = {
    "no_fence_after_retune": (Profile(quick_retune=True), (0, 9, 30)),
    "gap_not_counted": (Profile(), (0, 2, 3)),
    "expired_not_counted": (Profile(), (24, 71, 103)),
    "ttl_ignored": (Profile(), (24, 71, 103)),
    "old_session_stays_live": (Profile(), (27, 40, 124)),
    "follower_head_uncounted": (Profile(), (2, 3, 5)),
    "tail_unreported": (Profile(same_name_restart=True), (7, 9, 10)),
    "one_sample_moves_the_estimate": (Profile(hostile=True), (3, 7, 11)),
    "ended_in_beacon_ignored": (Profile(), (12, 15, 16)),
    "return_counted_from_start": (Profile(switch_back=True), (3, 7, 10)),
    "hello_zero_for_everyone": (Profile(two_publishers=True), (6, 17, 23)),
    "batch_stays_live": (Profile(send_many=True), (33, 91, 127)),
    "run_outlives_the_dial": (Profile(quick_retune=True), (27, 120, 153)),
    "ended_instance_heard_again": (
        Profile(hostile=True, two_publishers=True, clean_switch=True, switch_back=True),
        (1701798, 1702432, 1704726),
    ),
}
"""For each mutation, a profile and seeds that pass unmutated and catch it."""

BREAKS: Final[dict[str, str]] = {
    "no_fence_after_retune": "stale",
    "gap_not_counted": "accounting",
    "expired_not_counted": "accounting",
    "ttl_ignored": "ttl",
    "old_session_stays_live": "stale",
    "follower_head_uncounted": "accounting",
    "tail_unreported": "accounting",
    "one_sample_moves_the_estimate": "expiry",
    "ended_in_beacon_ignored": "end",
    "return_counted_from_start": "accounting",
    "hello_zero_for_everyone": "accounting",
    "batch_stays_live": "stale",
    "run_outlives_the_dial": "stale",
    "ended_instance_heard_again": "stale",
}
"""The invariant each mutation must be caught by (a mutation that makes the core raise is
caught as ``crash``: a slip of the mutation, not the bug it plants)."""


def check(name: str) -> dict[str, list[int] | list[str]]:
    """Run mutation *name*'s seeds plain and mutated: the seeds that fail each way, and how."""
    if radio.compiled.ACTIVE:
        raise RuntimeError("mutations need the pure-Python cores: set RADIO_PURE=1")
    profile, seeds = CATCHING[name]
    plain = [seed for seed in seeds if not run_seed(seed, profile).ok]
    with mutated(name):
        runs = [run_seed(seed, profile) for seed in seeds]
    caught = [run for run in runs if not run.ok]
    return {
        "failed_plain": plain,
        "caught": [run.seed for run in caught],
        "invariants": sorted({run.invariant for run in caught}),
    }


def main() -> int:
    """Check every mutation; print one JSON line of results; 0 if each is caught, and only then."""
    results = {name: check(name) for name in MUTATIONS}
    print(json.dumps(results))
    missed = [n for n, r in results.items() if r["failed_plain"] or not r["caught"]]
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
