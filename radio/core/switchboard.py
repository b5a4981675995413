"""A subscriber's frames off its heard sessions' topics: beacons, its inbox, fenced data, ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from radio.core.air import Air
from radio.core.dial import Dial, Heard
from radio.core.inbox import read_inbox
from radio.core.ledger import Ledger
from radio.core.wire import Beacon, Kind, decode, decode_parts, header_offset, is_parted
from radio.errors import MalformedMessageError
from radio.message import Message

Out = Callable[[Message], object]
"""Where a message to yield goes (the ready queue's append)."""
Careful = Callable[[Heard, bytes, Iterator[bytes], Out], "bytes | None"]
"""The tuner's careful path for a frame on a heard session's topic (`Tuner._careful`)."""


class Switchboard:
    """The `Tuner`'s control traffic: what it does with frames that are not a heard session's.

    A beacon of the publisher gone by moves the air (`Air`), ends the sessions it
    says ended, counts what was lost of the live one and moves a follower; a
    frame of our inbox is a HELLO or a last value (`read_inbox`), which goes to
    *careful* as the DATA frame it is; a data frame of a session not heard is
    counted fenced (queued or prefetched before a tune-out); junk is counted
    malformed. `end` is a session's end, by its END frame or a beacon.
    """

    def __init__(
        self,
        channel: str,
        prefix: bytes,
        inbox: bytes,
        air: Air,
        dial: Dial,
        ledger: Ledger,
        careful: Careful,
        log: Any,
    ) -> None:
        self.channel = channel
        self._prefix = prefix
        self._inbox = inbox
        self._air = air
        self._dial = dial
        self._ledger = ledger
        self._careful = careful
        self._log = log

    def handle(self, frame: bytes, rest: Iterator[bytes], out: Out) -> bytes | None:
        """A frame off every heard session's topic: a beacon, a last value, fenced, junk.

        A two-part message takes its payload from *rest*. Returns the frame it
        took from *rest* and did not use (see `Tuner._slow`).
        """
        if self._inbox and frame.startswith(self._inbox):
            last_value = read_inbox(frame, self._inbox, self._prefix, self._dial, self._ledger)
            if last_value is not None:
                self._careful(*last_value, iter(()), out)  # one DATA frame
            return None
        part: bytes | None = None
        try:
            if is_parted(frame, header_offset(frame)):
                part = next(rest, None)
                decoded = decode_parts(frame, part)
            else:
                decoded = decode(frame)
        except MalformedMessageError as exc:
            self._ledger.malformed(frame, exc)
            return part
        air = self._air
        if decoded.beacon is not None and decoded.channel == self.channel:
            # The one before (publisher clock): a session live now went live after it.
            since = air.announced_at
            resets, offset = air.resets, air.offset.value
            if air.hear(decoded.beacon, decoded.sent_at, decoded.ttl):
                air.rebase(resets, offset)
                self._beacon(decoded.beacon, decoded.sent_at, since)
        elif decoded.kind in (Kind.DATA, Kind.BATCH):
            # Queued or prefetched before a tune-out, or from another session: never yielded.
            self._ledger.fence_other(decoded.session, decoded.seq)
        return None

    def _beacon(self, beacon: Beacon, sent_at: float, since: float | None) -> None:
        """Act on a beacon of the publisher gone by, in order with its data.

        Sessions it says ended end here (their END may have been lost); the live
        session's last seq counts what was lost of it so far; a follower moves to
        a new live session, counting its head from the start when it was already
        following one.
        """
        dial, ledger = self._dial, self._ledger
        # It was following a session (now, or one that ended since): a move counts the head.
        moved = dial.following and (dial.live is not None or dial.between_sessions)
        heard_by_name = {entry.session: entry for entry in dial.heard.values()}
        me = beacon.publisher  # its seqs are of its own sessions
        for name, last_seq in beacon.ended:
            if name in heard_by_name and self.hears_end(heard_by_name[name], me):
                self.end(heard_by_name.pop(name), last_seq, sent_at)
        live = beacon.live or None
        entry = heard_by_name.get(live) if live else None
        if (
            entry is not None
            and ledger.hears_from(entry, me)
            and beacon.live_seq > entry.last_seq >= 0
        ):
            ledger.lost(entry, beacon.live_seq, sent_at)
        if dial.following and live != dial.live:
            self._log.info("session_followed", session=live, previous=dial.live)
            left = heard_by_name.get(dial.live) if dial.live else None
            if (
                left is not None
                and beacon.previous == left.session
                and ledger.hears_from(left, me)
                and left.last_seq >= 0
            ):
                ledger.lost(left, beacon.previous_seq, sent_at)  # its tail while live
            followed = dial.move_to(live, from_start=moved)
            if (
                moved
                and followed is not None
                and ledger.hears_from(followed, me)
                and beacon.live_seq > followed.last_seq >= 0
            ):
                # Its head was sent since the beacon before this one (or one interval ago).
                interval = self._air.interval
                followed.last_sent = sent_at - interval if since is None else since
                followed.heard_at -= interval  # by our clock: an interval at least
                ledger.lost(followed, beacon.live_seq, sent_at)  # the head it missed

    def hears_end(self, heard: Heard, instance: bytes) -> bool:
        """Whether an END of *instance* (or its beacon saying so) ends *heard*'s session.

        Yes when the session is heard from it (`Ledger.hears_from`), or is heard again
        after it ended it, no other instance heard since (`Dial.ended_by`).
        """
        return self._ledger.hears_from(heard, instance) or self._dial.ended_by(heard, instance)

    def end(self, heard: Heard, last_seq: int, sent_at: float) -> None:
        """*heard*'s session is over at *last_seq*: count its lost tail, stop hearing it."""
        if heard.last_seq >= 0:  # the tail lost before the END (none after nothing)
            self._ledger.lost(heard, last_seq, sent_at)
        self._dial.end(heard.session, heard.instance, last_seq)
        self._log.info("session_ended", session=heard.session, last_seq=last_seq)
