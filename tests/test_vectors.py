"""The conformance vectors in docs/protocol/vectors.json hold for radio itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.vectors import PATH, build, describe_frame, replay

VECTORS: dict[str, Any] = json.loads(PATH.read_text())


def test_the_file_is_what_radio_generates() -> None:
    """The committed vectors are exactly what `python -m tests.vectors` writes today:
    a change of behaviour shows here first, and the file is regenerated on purpose."""
    assert build() == json.loads(json.dumps(build())) == VECTORS


@pytest.mark.parametrize("vector", VECTORS["frames"], ids=lambda v: v["name"])
def test_each_frame_decodes_as_recorded(vector: dict[str, Any]) -> None:
    """decode() gives the recorded fields, or the recorded error."""
    assert describe_frame(bytes.fromhex(vector["hex"])) == vector["expect"]


@pytest.mark.parametrize("vector", VECTORS["messages"], ids=lambda v: v["name"])
def test_each_two_part_message_decodes_as_recorded(vector: dict[str, Any]) -> None:
    """decode_parts() gives the recorded fields, or the recorded error."""
    head, part = (bytes.fromhex(frame) for frame in vector["parts"])
    assert describe_frame(head, part) == vector["expect"]


@pytest.mark.parametrize("sequence", VECTORS["sequences"], ids=lambda s: s["name"])
def test_each_sequence_ends_as_recorded(sequence: dict[str, Any]) -> None:
    """Replayed from the file, a subscriber yields and counts what the file says."""
    assert replay(sequence) == sequence["expect"]
