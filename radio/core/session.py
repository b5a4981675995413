"""One open session as the publisher keeps it: topic, frame prefix, seq, batch, last value."""

from __future__ import annotations

from typing import Final, NamedTuple

from radio.core.batch import Batcher
from radio.core.wire import (
    HEADER,
    MAX_BATCH_MESSAGES,
    NO_PUBLISHER,
    PART_THRESHOLD,
    RECORD,
    Kind,
    encode_inbox,
    frame_prefix,
    kind_byte,
    pack_part,
    pack_record,
    pack_tail,
)
from radio.errors import MessageTooLargeError

_RECORD_SIZE: Final[int] = RECORD.size


class LastValue(NamedTuple):
    """A session's latest message, kept to hand to a subscriber that tunes in late."""

    seq: int
    sent_at: float
    ttl: float  # 0.0: no expiry
    payload: bytes
    kind: int  # the kind byte it went with (its LIVE flag as it was sent)


class SessionState:
    """One open session: its topic, frame prefix, last seq, batch and last value.

    `frame` is the publisher's hot path, whatever the build: it numbers one
    message and returns the frame to send now (None while a batch is filling),
    or the head of a two-part message whose second part is the payload itself
    (`parted`).
    """

    __slots__ = (
        "batch",
        "batch_prefix",
        "batched_below",
        "channel",
        "keep_last",
        "last",
        "max_frame",
        "max_payload",
        "parted_prefix",
        "prefix",
        "private",
        "publisher",
        "remembered",
        "seq",
        "small_below",
        "topic",
    )

    def __init__(
        self,
        channel: str,
        topic: bytes,
        *,
        max_frame: int,
        batch: Batcher | None = None,
        keep_last: bool = False,
        private: bool = False,
        remembered: bool = True,
        publisher: bytes = NO_PUBLISHER,
    ) -> None:
        self.channel = channel
        self.topic = topic
        self.publisher = publisher  # the instance ID every header carries
        self.private = private  # a desk client's own session: never the channel's live one
        self.remembered = remembered  # its name may come back: refuse to reopen it once closed
        self.prefix = frame_prefix(topic, Kind.DATA, publisher=publisher)  # not live (yet)
        self.parted_prefix = frame_prefix(topic, Kind.DATA, parted=True, publisher=publisher)
        self.batch_prefix = frame_prefix(topic, Kind.BATCH, publisher=publisher)  # `frames`'
        self.seq = 0
        self.batch = batch
        self.keep_last = keep_last
        self.last: LastValue | None = None  # the latest message, when keep_last
        self.max_frame = max_frame
        self.max_payload = max_frame - len(topic) - HEADER.size
        if batch is not None:
            self.max_payload -= RECORD.size  # a batched message also carries its record header
        # Below this size a message is one plain frame, nothing kept: `frame`'s first branch.
        plain = batch is None and not keep_last
        self.small_below = min(self.max_payload + 1, PART_THRESHOLD) if plain else 0
        # Below this size a message only goes into the batch (a batching session that
        # keeps no last value): what `frame` does then is `batch.add`, nothing else.
        only_batched = batch is not None and not keep_last
        self.batched_below = self.max_payload + 1 if only_batched else 0

    def parted(self, payload: bytes) -> bool:
        """Whether *payload* goes as the second part of a two-part message.

        Unbatched sessions send payloads of `PART_THRESHOLD` bytes or more that
        way, so that neither side copies them; a batch keeps single-frame records.
        """
        return self.batch is None and len(payload) >= PART_THRESHOLD

    def frame(self, payload: bytes, ttl: float, now: float) -> bytes | None:
        """Number *payload* (sent at *now*); return the frame to send now, if any.

        When `parted` says so, that frame is the head of a two-part message, to
        send with *payload* as its second part. Raises `MessageTooLargeError`
        (numbering nothing) when it cannot fit a frame. A small message of a
        session that neither batches nor keeps its last value takes the first
        branch: one comparison, then the frame.
        """
        if len(payload) < self.small_below:
            seq = self.seq = self.seq + 1
            return self.prefix + pack_tail(seq, now, ttl) + payload
        if len(payload) > self.max_payload:
            raise MessageTooLargeError(
                f"message of {len(payload)} bytes is over the {self.max_frame}-byte "
                f"limit on channel {self.channel!r}"
            )
        seq = self.seq = self.seq + 1
        if self.keep_last:
            self.last = LastValue(seq, now, ttl, payload, kind_byte(self.prefix))
        if self.batch is None:
            if len(payload) >= PART_THRESHOLD:
                return self.parted_prefix + pack_tail(seq, now, ttl) + pack_part(payload)
            return self.prefix + pack_tail(seq, now, ttl) + payload
        return self.batch.add(seq, now, ttl, payload)

    def frames(self, payloads: list[bytes], ttl: float, now: float) -> list[bytes] | None:
        """`frame` each of *payloads* in order (all sent at *now*); return the frames due.

        A session that neither batches nor keeps its last value packs them into
        BATCH frames, as many records a frame as `MAX_BATCH_MESSAGES` and its size
        allow: they share one send time, so a batch makes none of them wait, and a
        reader takes a frame of them at once (a run of one is a DATA frame).

        Raises `MessageTooLargeError` before numbering any when one cannot fit a frame.
        Returns None, numbering none, when one goes in two parts (`parted`): the
        caller then frames them one by one.
        """
        limit = self.max_payload
        parted = False
        for payload in payloads:
            size = len(payload)
            if size > limit:
                self.frame(payload, ttl, now)  # raises, with the message `frame` gives
            if size >= PART_THRESHOLD:
                parted = self.batch is None
        if parted:
            return None
        if not self.small_below:  # batching or keeping the last value
            return [f for p in payloads if (f := self.frame(p, ttl, now)) is not None]
        frames: list[bytes] = []
        run: list[bytes] = []  # the next BATCH frame's payloads
        room = self.max_payload  # what a frame holds after its header: the records
        size = 0
        for payload in payloads:
            need = _RECORD_SIZE + len(payload)
            if run and (size + need > room or len(run) == MAX_BATCH_MESSAGES):
                frames.append(self._packed(run, ttl, now))
                run, size = [], 0
            if need > room:  # too large for a record: a DATA frame of its own
                self.seq += 1
                frames.append(self.prefix + pack_tail(self.seq, now, ttl) + payload)
                continue
            run.append(payload)
            size += need
        if run:
            frames.append(self._packed(run, ttl, now))
        return frames

    def messages(
        self, payloads: list[bytes], ttl: float, now: float
    ) -> list[bytes | tuple[bytes, bytes]]:
        """`frames`, or when one goes in two parts, each framed on its own (`frame`).

        A two-part message is its head and payload part, to send as one ZeroMQ
        message; anything else is one frame. Raises as `frames` does.
        """
        frames = self.frames(payloads, ttl, now)
        if frames is not None:
            return list(frames)
        out: list[bytes | tuple[bytes, bytes]] = []
        for payload in payloads:
            if (frame := self.frame(payload, ttl, now)) is not None:
                out.append((frame, payload) if self.parted(payload) else frame)
        return out

    def _packed(self, payloads: list[bytes], ttl: float, now: float) -> bytes:
        """Number *payloads* (sent at *now*): one BATCH frame, or a DATA frame for one."""
        first = self.seq + 1
        self.seq += len(payloads)
        if len(payloads) == 1:
            return self.prefix + pack_tail(first, now, ttl) + payloads[0]
        records = [pack_record(now, len(payload)) + payload for payload in payloads]
        return self.batch_prefix + pack_tail(first, now, ttl) + b"".join(records)

    def welcome(self, inbox: bytes, tag: bytes, now: float) -> list[bytes]:
        """What a listener that just tuned in gets in *inbox* (its inbox + our name + /).

        The HELLO carries the seq sent last (the one before the last value, when
        one follows) and the *tag* of this tune-in (from its marker): the
        subscriber knows that what follows was sent after the publisher saw it,
        and tells an old HELLO apart. Waiting batches go first, so the last value
        never overtakes what was sent before it; an expired one is never sent.
        """
        frames = [] if (pending := self.flush()) is None else [pending]
        last = self.last
        if last is not None and last.ttl and now > last.sent_at + last.ttl:
            last = None  # never an expired one
        sent = self.seq if last is None else last.seq - 1  # the last value comes next
        me = self.publisher
        frames.append(encode_inbox(inbox, b"", Kind.HELLO, sent, now, 0.0, tag, me))
        if last is not None:
            frames.append(
                encode_inbox(
                    inbox, b"", last.kind, last.seq, last.sent_at, last.ttl, last.payload, me
                )
            )
        return frames

    def label(self, live: bool) -> None:
        """Set the LIVE flag of the frames from now on (flush the batch first)."""
        topic, me = self.topic, self.publisher
        self.prefix = frame_prefix(topic, Kind.DATA, live=live, publisher=me)
        self.parted_prefix = frame_prefix(topic, Kind.DATA, live=live, parted=True, publisher=me)
        self.batch_prefix = frame_prefix(topic, Kind.BATCH, live=live, publisher=me)
        if self.batch is not None:
            self.batch.set_live(live)

    def flush(self) -> bytes | None:
        """The batch's waiting messages as one frame (None: nothing waiting, or unbatched)."""
        return None if self.batch is None else self.batch.flush()
