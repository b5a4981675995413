"""What a publisher's beacons say and when they go: the schedule, END repeats, ended sessions."""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable, Container
from typing import Final

from radio.core.wire import (
    MAX_ENDED_IN_BEACON,
    PUBLISHER_ID_BYTES,
    Beacon,
    Kind,
    encode,
    encode_beacon,
)

END_REPEATS: Final[int] = 3
"""How many scheduled beacons after a session closes repeat its END frame: a full
queue may drop the first one, and a subscriber must still learn that it is over."""

ENDED_RETENTION_S: Final[float] = 120.0
"""How long beacons keep naming a closed session with its last seq (at most the
`radio.core.wire.MAX_ENDED_IN_BEACON` newest): a subscriber cut off for up to this long
still learns that its session ended, and how many messages it missed."""


class Announcer:
    """The beacon side of a publisher's core: pure, times passed in.

    Every time it is given or stamps (*now*) is the publisher's monotonic clock;
    the wall clock (*clock*) is read only for a beacon's ``wall`` field.

    It numbers beacons, knows when the next one is due (every ``interval``, or at
    once for a newcomer), repeats each END on the next `END_REPEATS` scheduled
    beacons, and remembers what beacons report: the sessions closed lately with
    their last seq, and the session live before the live one.
    """

    def __init__(
        self,
        control: bytes,
        interval: float,
        publisher_id: bytes | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.control = control
        self._monotonic = monotonic  # the stamps, the schedule and the retention: never steps
        self._clock = clock  # the beacons' wall field alone
        self.interval = interval
        if publisher_id is not None and len(publisher_id) != PUBLISHER_ID_BYTES:
            raise ValueError(
                f"publisher ID {publisher_id!r} is not {PUBLISHER_ID_BYTES} bytes long"
            )
        self.publisher_id = publisher_id or secrets.token_bytes(PUBLISHER_ID_BYTES)
        self._seq = 0
        self._next = 0.0  # the first tick sends one
        self._repeats: dict[bytes, list[int]] = {}  # topic -> [last seq, repeats left]
        self._previous: tuple[str, int] | None = None  # live before the live one, its seq then
        # (name, last seq, when it ended by the monotonic clock), oldest first
        self._ended: deque[tuple[str, int, float]] = deque(maxlen=MAX_ENDED_IN_BEACON)

    def due(self) -> bool:
        """Whether a scheduled beacon is due now.

        By the monotonic clock: a wall-clock step of the publisher's host neither
        silences the channel nor floods it.
        """
        return self._monotonic() >= self._next

    def hurry(self) -> None:
        """Make the next beacon due at once (a subscriber arrived on the channel)."""
        self._next = 0.0

    def ended(self, topic: bytes, name: str, last_seq: int, now: float) -> bytes:
        """A session closed at *now*: return its END frame, and repeat and report it."""
        self._repeats[topic] = [last_seq, END_REPEATS]
        self._ended.append((name, last_seq, self._monotonic()))
        return encode(topic, Kind.END, last_seq, now, publisher=self.publisher_id)

    def superseded(self, name: str, seq: int) -> None:
        """*name* stopped being live after its message *seq*: followers heard up to there."""
        self._previous = (name, seq)

    def frames(
        self,
        now: float,
        live: str | None,
        live_seq: int,
        is_open: Container[str],
        *,
        scheduled: bool = False,
        signing_off: bool = False,
    ) -> list[bytes]:
        """END repeats (*scheduled* beacons only), then one beacon.

        END repeats ride only on the beacons of the schedule, a beacon interval
        apart: the beacons that openings and closings send at once would put every
        repeat into the same full queue within a millisecond.
        """
        frames = []
        if scheduled:
            for topic, repeat in list(self._repeats.items()):
                frames.append(encode(topic, Kind.END, repeat[0], now, publisher=self.publisher_id))
                repeat[1] -= 1
                if not repeat[1]:
                    del self._repeats[topic]
        self._seq += 1
        content = self.beacon(now, live, live_seq, is_open, signing_off=signing_off)
        frames.append(encode_beacon(self.control, self._seq, now, self.interval, content))
        self._next = self._monotonic() + self.interval
        return frames

    def beacon(
        self,
        now: float,
        live: str | None,
        live_seq: int,
        is_open: Container[str],
        *,
        signing_off: bool = False,
    ) -> Beacon:
        """What a beacon sent at *now* (monotonic) says.

        This publisher, the live session and its last seq, the previous live
        session while still open (*is_open*), the sessions that ended within
        `ENDED_RETENTION_S`, and the wall clock at *now*: the wall clock minus
        the monotonic one, read back to back, plus *now*.
        """
        wall = self._clock()
        ended, mono = self._ended, self._monotonic()
        wall += now - mono
        while ended and mono - ended[0][2] > ENDED_RETENTION_S:
            ended.popleft()
        previous = self._previous if self._previous and self._previous[0] in is_open else None
        return Beacon(
            self.publisher_id,
            live or "",
            live_seq,
            tuple((name, seq) for name, seq, _ in ended),
            signing_off,
            *(previous or ("", 0)),
            max(wall, 0.0),
        )
