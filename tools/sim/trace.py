"""One line per step of a subscriber, as the oracle sees it: what a verbose replay prints."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from radio.message import Message
from tools.sim.invariants import View
from tools.sim.network import Packet
from tools.sim.truth import ROGUE, Meta

Trace = Callable[[str], None]
"""Where a traced run writes its lines (``print``)."""

SHOWN = 6
"""Frames of one read shown in full; the rest are summed up."""


def frame(meta: Meta) -> str:
    """One message on the wire: kind, session and seq, publisher instance, flags, beacon."""
    text = f"{meta.attack or meta.kind.name} {meta.session}#{meta.seq}"
    if len(meta.ids) > 1:
        text += f"-{meta.seq + len(meta.ids) - 1}"
    text += f" i{meta.instance}" if meta.instance != ROGUE else " rogue"
    text += " live" if meta.live else ""
    text += " inbox" if meta.listener else ""
    beacon = meta.beacon
    if beacon is not None:
        ended = ",".join(f"{name}@{seq}" for name, seq in beacon.ended)
        text += f" [live {beacon.live or '-'}@{beacon.live_seq}"
        text += f" previous {beacon.previous}@{beacon.previous_seq}" if beacon.previous else ""
        text += f" ended {ended}]" if ended else "]"
    return text


def frames(packets: Sequence[Packet]) -> str:
    """The messages of one read, the middle summed up when there are many."""
    shown = [frame(packet.meta) for packet in packets]
    if len(shown) > SHOWN:
        shown = [*shown[: SHOWN - 2], f"... {len(shown) - SHOWN + 1} more", shown[-1]]
    return ", ".join(shown)


def step(
    now: float,
    name: str,
    what: str,
    before: View,
    after: View,
    yielded: Sequence[Message],
    knowable: int | None,
) -> str:
    """One step: what the subscriber did, what it yielded, how its state and counters moved."""
    parts = [f"t={now:.4f} {name} {what}"]
    if yielded:
        seqs = [f"{message.session}#{message.seq}" for message in yielded]
        shown = seqs if len(seqs) <= SHOWN else [seqs[0], "...", seqs[-1]]
        parts.append(f"yielded {len(seqs)} ({' '.join(shown)})")
    if (before.following, before.live) != (after.following, after.live):
        parts.append(f"following {after.following} live {before.live}->{after.live}")
    if before.sessions != after.sessions:
        parts.append(f"hears {{{' '.join(sorted(after.sessions))}}}")
    old, new = before.stats, after.stats
    moved = [
        f"{counter} {getattr(old, counter)}->{getattr(new, counter)}"
        for counter in (
            "gaps",
            "expired",
            "fenced",
            "oversize",
            "malformed",
            "conflicts",
            "unknown_tails",
        )
        if getattr(old, counter) != getattr(new, counter)
    ]
    if moved:
        parts.append(", ".join(moved))
    if knowable is not None and knowable != new.gaps:
        parts.append(f"knowably missed {knowable}")
    return "; ".join(parts)
