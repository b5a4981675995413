"""Batches: many messages of one session in one BATCH frame, with bounded size and delay."""

from __future__ import annotations

import pytest

from radio import MalformedMessageError
from radio.core.batch import Batch
from radio.core.wire import (
    HEADER,
    MAX_BATCH_MESSAGES,
    Kind,
    decode,
    decode_records,
    encode,
    encode_record,
)


def test_batch_frames_carry_consecutive_messages() -> None:
    """A full batch is one BATCH frame: first seq in the header, each message a record."""
    batch = Batch(b"ch/s1/", max_messages=3, max_bytes=10_000, delay=60.0)
    assert batch.add(1, 100.0, 0.0, b"a") is None
    assert batch.add(2, 100.5, 0.0, b"bb") is None
    frame = batch.add(3, 101.0, 0.0, b"ccc")
    assert frame is not None
    decoded = decode(frame)
    assert (decoded.kind, decoded.seq, decoded.sent_at) == (Kind.BATCH, 1, 100.0)
    assert decode_records(frame, len(b"ch/s1/") + HEADER.size) == [
        (100.0, b"a"),
        (100.5, b"bb"),
        (101.0, b"ccc"),
    ]
    assert len(batch) == 0


def test_a_different_ttl_or_size_starts_a_new_batch() -> None:
    """Messages of one frame share a TTL and fit the size limit."""
    batch = Batch(b"ch/s1/", max_messages=100, max_bytes=200, delay=60.0)
    batch.add(1, 1.0, 0.0, b"x")
    displaced = batch.add(2, 1.0, 5.0, b"y")
    assert displaced is not None
    assert decode(displaced).ttl == 0.0
    displaced = batch.add(3, 1.0, 5.0, b"z" * 150)
    assert displaced is not None
    assert len(decode_records(displaced, 6 + HEADER.size)) == 1
    assert len(batch) == 1


def test_due_after_the_delay() -> None:
    """The service thread flushes a batch once its oldest message has waited the delay."""
    batch = Batch(b"ch/s1/", max_messages=100, max_bytes=10_000, delay=0.5)
    assert not batch.due(10.0)
    batch.add(1, 10.0, 0.0, b"x")
    assert not batch.due(10.4)
    assert batch.due(10.5)


def test_a_batch_of_too_many_messages_is_malformed() -> None:
    """One frame cannot make a subscriber hold more than MAX_BATCH_MESSAGES messages."""
    records = encode_record(1.0, b"") * (MAX_BATCH_MESSAGES + 1)
    frame = encode(b"ch/s1/", Kind.BATCH, 1, 1.0, records)
    with pytest.raises(MalformedMessageError, match="more than"):
        decode(frame)
