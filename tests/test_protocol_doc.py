"""docs/protocol.md and its vectors name every frame kind and flag radio sends or accepts."""

from __future__ import annotations

import re
from pathlib import Path

from radio.core import wire
from radio.core.wire import VERSION, Kind
from tests import vectors

DOC = Path(__file__).parent.parent / "docs" / "protocol.md"
FLAGS = {"LIVE": wire.LIVE, "PARTED": wire.PARTED}
KIND_BITS = 0x3F


def kind_bullet() -> str:
    """The doc's bullet on the header's kind byte, on one line."""
    text = DOC.read_text(encoding="utf-8")
    start = text.index("- `kind`:")
    return " ".join(text[start : text.index("\n- `", start + 1)].split())


def test_the_doc_names_every_kind_with_its_value_and_no_other() -> None:
    named = {(int(value), name) for value, name in re.findall(r"\b(\d+) ([A-Z]+)\b", kind_bullet())}
    assert named == {(kind.value, kind.name) for kind in Kind}


def test_the_doc_names_every_flag_with_its_bit() -> None:
    bullet = kind_bullet()
    for name, bit in FLAGS.items():
        assert re.search(rf"0x{bit:02x}\W+{name}|{name}\W+0x{bit:02x}", bullet), name
    # The kind byte holds the kind in its low bits and these flags, nothing else.
    assert sum(FLAGS.values()) | KIND_BITS == 0xFF
    assert max(Kind) <= KIND_BITS


def header_byte(frame: bytes) -> int | None:
    """The kind byte of one of radio's frames: the header follows the topic's last '/'."""
    for index in range(1, len(frame) - 1):
        if frame[index] == VERSION and frame[index - 1] == ord("/"):
            return frame[index + 1]
    return None


def every_vector_frame() -> list[bytes]:
    frames = list(vectors.FRAMES.values())
    for parts in vectors.MESSAGES.values():
        frames += parts
    for sequence in vectors.SEQUENCES:
        for step in sequence["steps"]:
            if isinstance(step, bytes):
                frames.append(step)
            elif isinstance(step, list):
                frames += step
    return frames


def test_the_vectors_carry_every_kind_and_every_flag() -> None:
    bytes_seen = {byte for frame in every_vector_frame() if (byte := header_byte(frame))}
    assert {byte & KIND_BITS for byte in bytes_seen} >= {kind.value for kind in Kind}
    for name, bit in FLAGS.items():
        assert any(byte & bit for byte in bytes_seen), name
