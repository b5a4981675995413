"""One open session as the publisher keeps it: topic, frame prefix, seq, batch, last value."""

from __future__ import annotations

from radio.batch import Batch
from radio.errors import MessageTooLargeError
from radio.wire import (
    HEADER,
    PART_THRESHOLD,
    RECORD,
    Kind,
    encode_inbox,
    frame_prefix,
    kind_byte,
    pack_part_length,
    pack_tail,
)


class SessionState:
    """One open session: its topic, frame prefix, last seq, batch and last value.

    `frame` is the publisher's hot path: it numbers one message and returns the
    frame to send now (None while a batch is filling), or the head of a two-part
    message whose second part is the payload itself (`parted`). ``inline_below``
    is the payload size from which `frame` must be called: smaller payloads of a
    `plain` session are ``prefix + pack_tail(seq, sent_at, ttl) + payload``.
    """

    __slots__ = (
        "batch",
        "channel",
        "inline_below",
        "keep_last",
        "last",
        "max_frame",
        "max_payload",
        "parted_prefix",
        "plain",
        "prefix",
        "private",
        "remembered",
        "seq",
        "topic",
    )

    def __init__(
        self,
        channel: str,
        topic: bytes,
        *,
        max_frame: int,
        batch: Batch | None = None,
        keep_last: bool = False,
        private: bool = False,
        remembered: bool = True,
    ) -> None:
        self.channel = channel
        self.topic = topic
        self.private = private  # a desk client's own session: never the channel's live one
        self.remembered = remembered  # its name may come back: refuse to reopen it once closed
        self.prefix = frame_prefix(topic, Kind.DATA)  # not live (yet)
        self.parted_prefix = frame_prefix(topic, Kind.DATA, parted=True)
        self.seq = 0
        self.batch = batch
        self.keep_last = keep_last
        self.plain = batch is None and not keep_last  # a frame per message, nothing kept
        # The latest message (keep_last): seq, sent_at, ttl, payload, kind byte.
        self.last: tuple[int, float, float, bytes, int] | None = None
        self.max_frame = max_frame
        self.max_payload = max_frame - len(topic) - HEADER.size
        if batch is not None:
            self.max_payload -= RECORD.size  # a batched message also carries its record header
        # A two-part message's size counts its topic, header and payload, as one frame's.
        self.inline_below = min(self.max_payload + 1, PART_THRESHOLD) if self.plain else 0

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
        (numbering nothing) when it cannot fit a frame.
        """
        if len(payload) > self.max_payload:
            raise MessageTooLargeError(
                f"message of {len(payload)} bytes is over the {self.max_frame}-byte "
                f"limit on channel {self.channel!r}"
            )
        seq = self.seq = self.seq + 1
        if self.keep_last:
            self.last = (seq, now, ttl, payload, kind_byte(self.prefix))  # LIVE flag as now
        if self.batch is None:
            if len(payload) >= PART_THRESHOLD:
                return (
                    self.parted_prefix + pack_tail(seq, now, ttl) + pack_part_length(len(payload))
                )
            return self.prefix + pack_tail(seq, now, ttl) + payload
        return self.batch.add(seq, now, ttl, payload)

    def small_frame(self, payload: bytes, ttl: float, now: float) -> bytes | None:
        """`frame` for a payload below ``inline_below``; None (numbering nothing) otherwise.

        The compiled publisher's hot path: one call decides and frames, so that no
        attribute of this object is read from interpreted code per message.
        """
        if len(payload) >= self.inline_below:
            return None
        seq = self.seq = self.seq + 1
        return self.prefix + pack_tail(seq, now, ttl) + payload

    def frames(self, payloads: list[bytes], ttl: float, now: float) -> list[bytes] | None:
        """`frame` each of *payloads* in order (all sent at *now*); return the frames due.

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
        if not self.plain:
            return [f for p in payloads if (f := self.frame(p, ttl, now)) is not None]
        prefix, seq = self.prefix, self.seq
        frames = []
        for payload in payloads:
            seq += 1
            frames.append(prefix + pack_tail(seq, now, ttl) + payload)
        self.seq = seq
        return frames

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
        if last is not None and last[2] and now > last[1] + last[2]:
            last = None  # never an expired one
        sent = self.seq if last is None else last[0] - 1  # the last value comes next
        frames.append(encode_inbox(inbox, b"", Kind.HELLO, sent, now, 0.0, tag))
        if last is not None:
            seq, sent_at, ttl, payload, kind = last
            frames.append(encode_inbox(inbox, b"", kind, seq, sent_at, ttl, payload))
        return frames

    def label(self, live: bool) -> None:
        """Set the LIVE flag of the frames from now on (flush the batch first)."""
        self.prefix = frame_prefix(self.topic, Kind.DATA, live=live)
        self.parted_prefix = frame_prefix(self.topic, Kind.DATA, live=live, parted=True)
        if self.batch is not None:
            self.batch.set_live(live)

    def flush(self) -> bytes | None:
        """The batch's waiting messages as one frame (None: nothing waiting, or unbatched)."""
        return None if self.batch is None else self.batch.flush()
