"""Protocol conformance vectors: frames and subscriber sequences, written and checked.

``python -m tests.vectors`` writes docs/protocol/vectors.json from radio's own
encoder and subscriber core; tests/test_vectors.py checks that radio still
decodes every frame and ends every sequence exactly as the file says. Other
implementations replay the same file (see docs/protocol.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from radio.core.names import audience_topic, control_topic, inbox_topic, session_topic
from radio.core.tuner import Tuner
from radio.core.wire import (
    VERSION,
    Audience,
    Beacon,
    Kind,
    decode,
    decode_parts,
    encode,
    encode_audience,
    encode_audience_payload,
    encode_batch,
    encode_beacon,
    encode_inbox,
    encode_parts,
)
from radio.errors import MalformedMessageError
from radio.message import Message

PATH = Path(__file__).parent.parent / "docs" / "protocol" / "vectors.json"
PUB = b"pub-0001"
NEW = b"pub-0002"
"""A second publisher instance: the first one restarted, or another publisher."""
ME = b"0123456789abcdef"
T0 = 1_800_000_000.0
"""The publisher's wall clock when its monotonic clock reads `P0` (beacons say so)."""
P0 = 5_000.0
"""The publisher's monotonic clock: every header's send time (version 3 on) is near it."""
SUB_MONO = 90_000.0
"""The subscriber's monotonic clock as every frame arrives (unless a sequence says)."""


def _data(
    session: str,
    seq: int,
    *,
    ttl: float = 0.0,
    live: bool = True,
    at: float = P0,
    publisher: bytes = PUB,
) -> bytes:
    topic = session_topic("ch", session)
    return encode(topic, Kind.DATA, seq, at, b"m%d" % seq, ttl, live=live, publisher=publisher)


def _beacon(live: str, live_seq: int = 0, **more: Any) -> bytes:
    at = more.pop("at", P0)
    publisher = more.pop("publisher", PUB)
    more.setdefault("wall", T0 + at - P0)
    content = Beacon(publisher, live, live_seq, **more)
    return encode_beacon(control_topic("ch"), 1, at, 1.0, content)


def _end(session: str, last: int) -> bytes:
    return encode(session_topic("ch", session), Kind.END, last, P0, publisher=PUB)


def _parts(session: str, seq: int, payload: bytes, *, live: bool = True) -> list[bytes]:
    topic = session_topic("ch", session)
    return list(encode_parts(topic, seq, P0, payload, live=live, publisher=PUB))


def _hello(session: str, seq: int, tag: bytes, publisher: bytes = PUB) -> bytes:
    inbox, name = inbox_topic("ch", ME), session.encode() + b"/"
    return encode_inbox(inbox, name, Kind.HELLO, seq, P0, 0.0, tag, publisher)


def _batch(first: int, records: list[tuple[float, bytes]]) -> bytes:
    return encode_batch(session_topic("ch", "s1"), first, 0.0, records, publisher=PUB)


def _audience(audience: Audience, interval: float = 1.0) -> bytes:
    return encode_audience(audience_topic("ch"), 3, P0, interval, audience, PUB)


AUDIENCE = Audience(5, (("s2", 3, 40), ("s0", 1, 12)), 0, 2, 1)
"""5 subscribers on the channel; s2 (live) has 3 listeners, s0 one; 2 desk sessions, 1 listener."""


def _in_inbox(frame: bytes) -> bytes:
    """*frame*, of a session topic of channel ch, sent to our inbox instead."""
    return inbox_topic("ch", ME) + frame[len(b"ch/") :]


FRAMES: dict[str, bytes] = {
    "data": _data("s1", 7, ttl=2.5),
    "data not live": _data("s1", 8, live=False),
    "end": _end("s1", 9),
    "batch": _batch(3, [(P0, b"a"), (P0 + 0.5, b"bc")]),
    "beacon": _beacon("s2", 40, ended=(("s1", 9),), previous="s0", previous_seq=12),
    "beacon signing off": _beacon("", signing_off=True),
    "bad version": _data("s1", 1).replace(bytes((VERSION,)), b"\x01", 1),
    "version 2 (wall-clock send times)": _data("s1", 1).replace(bytes((VERSION,)), b"\x02", 1),
    "version 3 (no publisher in the header)": _data("s1", 1).replace(bytes((VERSION,)), b"\x03", 1),
    "unknown kind": _data("s1", 1)[:6] + bytes((VERSION, 9)) + _data("s1", 1)[8:],
    "live flag on END": _end("s1", 1)[:7] + b"\x82" + _end("s1", 1)[8:],
    "beacon cut short": encode(control_topic("ch"), Kind.BEACON, 1, P0, b"\x00" * 8, 1.0),
    "beacon interval 0": encode_beacon(control_topic("ch"), 1, P0, 0.0, Beacon(PUB, "s1", wall=T0)),
    "beacon interval 1e9 s": encode_beacon(
        control_topic("ch"), 1, P0, 1e9, Beacon(PUB, "s1", wall=T0)
    ),
    "audience": _audience(AUDIENCE),
    "audience of nobody": _audience(Audience()),
    "audience with a stray byte": encode(
        audience_topic("ch"), Kind.AUDIENCE, 1, P0, encode_audience_payload(AUDIENCE) + b"\x00", 1.0
    ),
    "audience naming a session twice": _audience(Audience(2, (("s1", 1, 1), ("s1", 1, 1)))),
    "audience interval 0": _audience(AUDIENCE, 0.0),
    "audience on the control topic": encode(
        control_topic("ch"), Kind.AUDIENCE, 1, P0, encode_audience_payload(AUDIENCE), 1.0
    ),
    "beacon on the audience topic": encode_beacon(
        audience_topic("ch"), 1, P0, 1.0, Beacon(PUB, "s1", wall=T0)
    ),
    "no topic": b"junk",
    "parted head alone": _parts("s1", 4, b"big")[0],
}

# Two-part DATA messages: the head, then the payload part (real ones are >= 64 KiB).
MESSAGES: dict[str, list[bytes]] = {
    "data in two parts": _parts("s1", 4, b"large payload"),
    "data in two parts, not live": _parts("s1", 5, b"p", live=False),
    "part of another length": [_parts("s1", 6, b"four")[0], b"five!"],
}

# Each sequence: steps in order (a frame arriving, or the application tuning), and
# what it must have yielded (with each message's sent_at) and counted at the end.
# Every frame arrives when the subscriber's monotonic clock reads `monotonic`
# (default `SUB_MONO`) and its wall clock `wall` (default `T0`): ages are judged on
# the monotonic clocks, the wall clocks only show sent_at (version 3).
Step = bytes | list[bytes] | tuple[str, str]
TUNE_IN: Step = ("tune_in", "s1")
FOLLOW: Step = ("follow", "")

SEQUENCES: list[dict[str, Any]] = [
    {"name": "gaps from a jump", "steps": [TUNE_IN, _data("s1", 1), _data("s1", 4)]},
    {
        "name": "an AUDIENCE frame (for observers) changes nothing",
        "steps": [TUNE_IN, _data("s1", 1), _audience(AUDIENCE), _data("s1", 2)],
    },
    {"name": "tail lost with END", "steps": [TUNE_IN, _data("s1", 1), _end("s1", 5)]},
    {"name": "END after nothing heard", "steps": [TUNE_IN, _end("s1", 5)]},
    {
        "name": "END lost, learned from a beacon",
        "steps": [TUNE_IN, _data("s1", 1), _beacon("s2", ended=(("s1", 6),))],
    },
    {
        "name": "follower: the head and the tail of a switch it learned late",
        "steps": [
            FOLLOW,
            _beacon("s1"),
            _data("s1", 1),
            _beacon("s2", 3, previous="s1", previous_seq=2),
            _data("s2", 5),
        ],
    },
    {
        "name": "follower fences a message sent after a switch",
        "steps": [FOLLOW, _beacon("s1"), _data("s1", 1), _data("s1", 2, live=False)],
    },
    {
        "name": "TTL on monotonic clocks (ours 85000 s ahead; our wall clock 1 h behind)",
        "monotonic": SUB_MONO,
        "wall": T0 - 3600.0,
        "steps": [
            TUNE_IN,
            _beacon("", at=P0),  # arrives at once: the offset is SUB_MONO - P0
            _data("s1", 1, ttl=2.0, at=P0 - 1.0),  # 1 s old: yielded, sent_at T0 - 1
            _data("s1", 2, ttl=2.0, at=P0 - 3.0),  # 3 s old: expired
            _beacon("", at=P0, wall=T0 + 5.0),  # the publisher's wall clock stepped 5 s
            _data("s1", 3, ttl=2.0, at=P0 - 1.0),  # 1 s old still; sent_at T0 + 4
        ],
    },
    {
        "name": "before any beacon, sent_at is our wall clock less the age",
        "steps": [
            TUNE_IN,
            _data("s1", 1, ttl=2.0, at=P0),  # the first sample sets the offset
            _data("s1", 2, ttl=2.0, at=P0 - 1.5),  # 1.5 s old: sent_at T0 - 1.5
        ],
    },
    {
        "name": "a second publisher is a conflict",
        "steps": [
            FOLLOW,
            _beacon("s1"),
            _beacon("x9", publisher=NEW),
            _data("s1", 1),
        ],
    },
    {
        "name": "a re-tune waits for its own HELLO",
        "steps": [
            TUNE_IN,
            _hello("s1", 0, b"1"),
            _data("s1", 1),
            ("tune_out", "s1"),
            TUNE_IN,
            _data("s1", 2),
            _hello("s1", 0, b"1"),
            _data("s1", 3),
            _hello("s1", 3, b"2"),
            _data("s1", 4),
        ],
    },
    {"name": "junk is malformed", "steps": [TUNE_IN, b"junk", _data("s1", 1)[:20]]},
    {
        "name": "an inbox takes a HELLO and the last value right after it, nothing else",
        "steps": [
            TUNE_IN,
            _hello("s1", 4, b"1"),
            _in_inbox(_data("s1", 5)),
            _data("s1", 6),
            _in_inbox(_data("s1", 60)),
            _in_inbox(_batch(7, [(P0, b"x")])),
            _in_inbox(_end("s1", 9)),
            _data("s1", 7),
        ],
    },
    {
        "name": "a two-part message between single frames",
        "steps": [TUNE_IN, _data("s1", 1), _parts("s1", 2, _data("s1", 9)), _data("s1", 3)],
    },
    {
        "name": "a lying head sent alone, of the next message's length, swallows nothing",
        "steps": [
            TUNE_IN,
            [_parts("s1", 1, b"x" * len(_data("s1", 2)))[0], _data("s1", 2)],
            [_parts("s1", 3, b"y" * len(_data("s1", 3)))[0], _data("s1", 3)],
        ],
    },
    {
        "name": "a parted head whose part is missing or of another length",
        "steps": [TUNE_IN, [_parts("s1", 1, b"xx")[0], _data("s1", 2)], [_parts("s1", 3, b"x")[0]]],
    },
    {
        "name": "a restart under the same session name: the old instance's tail is unknown, "
        "the new one's head is counted, the old one's frames are stale",
        "steps": [
            TUNE_IN,
            _data("s1", 1),
            _data("s1", 2),
            _data("s1", 3, publisher=NEW),  # 1 and 2 of the new instance were lost
            _data("s1", 3),  # the old instance: moved on from
            _data("s1", 4, publisher=NEW),
        ],
    },
    {
        "name": "a seq the instance sent before, or one 2^32 on, is fenced and moves nothing",
        "steps": [TUNE_IN, _data("s1", 5), _data("s1", 5), _data("s1", 2**40), _data("s1", 6)],
    },
    {
        "name": "one frame stamped far ahead moves no clock estimate",
        "steps": [
            TUNE_IN,
            _data("s1", 1, ttl=2.0, at=P0),
            _data("s1", 2, ttl=2.0, at=P0 + 1e6),  # forged, or a flipped bit: not believed
            _data("s1", 3, ttl=2.0, at=P0 - 1.0),  # 1 s old: yielded
        ],
    },
    {
        "name": "each publisher instance has its own clock estimate",
        "steps": [
            TUNE_IN,
            ("tune_in", "s2"),
            _data("s1", 1, ttl=2.0, at=P0),
            _data("s2", 1, ttl=2.0, at=P0 + 100.0, publisher=NEW),  # its clock is 100 s ahead
            _data("s1", 2, ttl=2.0, at=P0 - 1.0),  # 1 s old: yielded
            _data("s2", 2, ttl=2.0, at=P0 + 97.0, publisher=NEW),  # 3 s old: expired
        ],
    },
    {
        "name": "a HELLO says which instance it speaks for: one saying 0 claims nothing",
        "steps": [
            TUNE_IN,
            _hello("s1", 0, b"1", publisher=NEW),  # a publisher that lacks s1 (behind a relay)
            _hello("s1", 7, b"1"),  # the one that has it: 7 sent before it saw us, the baseline
            _data("s1", 9),  # 8 lost (the first HELLO's 0 was a baseline for NEW's frames alone)
        ],
    },
    {
        "name": "a HELLO past the last seq counts nothing; the next message counts the gap",
        "steps": [
            TUNE_IN,
            _data("s1", 1),  # the baseline
            _hello("s1", 5, b"1"),  # 2 to 5 were sent before the publisher saw us: no count
            _data("s1", 6),  # the jump counts 2 to 5
        ],
    },
    {
        "name": "a BATCH under a TTL: each record's own send time, the TTL shared",
        "steps": [
            TUNE_IN,
            _beacon("", at=P0),
            encode_batch(
                session_topic("ch", "s1"),
                1,
                2.0,
                [(P0 - 3.0, b"a"), (P0 - 1.0, b"b")],  # 3 s old: expired; 1 s old: yielded
                publisher=PUB,
            ),
        ],
    },
    {
        "name": "a beacon is a clock sample; a sample in doubt is dropped by an ordinary one",
        "steps": [
            TUNE_IN,
            _beacon("", at=P0),  # the estimate: SUB_MONO - P0
            _data("s1", 1, ttl=2.0, at=P0 + 1.0),  # 1 s below the estimate: in doubt
            _data("s1", 2, ttl=2.0, at=P0 - 1.5),  # ordinary: drops the one in doubt; 1.5 s old
            _data("s1", 3, ttl=2.0, at=P0 + 0.9),  # in doubt, alone (the first was dropped)
            _data("s1", 4, ttl=2.0, at=P0 - 1.5),  # 1.5 s old still: yielded
        ],
    },
    {
        "name": "the first session followed counts from its first message",
        "steps": [
            FOLLOW,
            _beacon("s1", 5),  # no baseline yet: nothing counted
            _data("s1", 7),  # the baseline
            _beacon("s2", 3, previous="s1", previous_seq=9),  # s1's tail 8, 9; s2's head 1 to 3
            _data("s2", 4),
        ],
    },
    {
        "name": "a follower back on a session it heard (s1, s2, s1) counts on from there",
        "steps": [
            FOLLOW,
            _beacon("s1"),
            _data("s1", 1),
            _data("s1", 2),
            _beacon("s2", previous="s1", previous_seq=2),
            _data("s2", 1),
            _end("s2", 1),  # s1 is live again: the next beacon says so
            _beacon("s1", 4, previous="s1", previous_seq=2),  # 3, 4 lost: not 1 to 4
            _hello("s1", 4, b"3"),  # the return's tune-in (the third)
            _data("s1", 5),
        ],
    },
    {
        "name": "a follower: a beacon naming no live session drops the one followed; "
        "the next one counts from seq 0",
        "steps": [
            FOLLOW,
            _beacon("s1"),
            _data("s1", 1),
            _beacon(""),  # s1 is no longer heard
            _data("s1", 2),  # fenced: a session not heard
            _beacon("s2", 2),  # its head 1, 2: gaps
            _data("s2", 3),
        ],
    },
    {
        "name": "a fenced message past the last seq counts the gap before it "
        "and moves the last seq",
        "steps": [
            FOLLOW,
            _beacon("s1"),
            _data("s1", 1),
            _data("s1", 4, live=False),  # fenced; 2 and 3: gaps
            _data("s1", 5),  # next after 4: no gap
        ],
    },
    {
        "name": "an inbox: a PARTED head, and another listener's inbox, are malformed",
        "steps": [
            TUNE_IN,
            [_in_inbox(_parts("s1", 1, b"xx")[0]), b"xx"],  # the head, then junk of its own
            inbox_topic("ch", b"fedcba9876543210") + _data("s1", 1)[len(b"ch/") :],
            _data("s1", 2),
        ],
    },
]


def describe_frame(frame: bytes, part: bytes | None = None) -> dict[str, Any]:
    """What radio decodes from *frame* (with its *part*, if any), as JSON-ready fields."""
    try:
        decoded = decode(frame) if part is None else decode_parts(frame, part)
    except MalformedMessageError as exc:
        return {"error": str(exc)}
    fields: dict[str, Any] = {
        "channel": decoded.channel,
        "session": decoded.session,
        "kind": decoded.kind.name,
        "publisher": decoded.publisher.hex(),
        "live": decoded.live,
        "seq": decoded.seq,
        "sent_at": decoded.sent_at,
        "ttl": decoded.ttl,
        "payload": decoded.payload.hex(),
    }
    if decoded.beacon is not None:
        beacon = decoded.beacon
        fields["beacon"] = {
            "publisher": beacon.publisher.hex(),
            "live": beacon.live,
            "live_seq": beacon.live_seq,
            "previous": beacon.previous,
            "previous_seq": beacon.previous_seq,
            "ended": [list(entry) for entry in beacon.ended],
            "signing_off": beacon.signing_off,
            "wall": beacon.wall,
        }
    if decoded.audience is not None:
        audience = decoded.audience
        fields["audience"] = {
            "channel": audience.channel,
            "sessions": [list(entry) for entry in audience.sessions],
            "unlisted": audience.unlisted,
            "private_sessions": audience.private_sessions,
            "private_listeners": audience.private_listeners,
        }
    return fields


def replay(sequence: dict[str, Any]) -> dict[str, Any]:
    """Run *sequence* through radio's subscriber core; what it yields and counts."""
    mono = float(sequence.get("monotonic", SUB_MONO))
    wall = float(sequence.get("wall", T0))
    tuner = Tuner("ch", clock=lambda: wall, monotonic=lambda: mono, listener_id=ME)
    yielded = []
    for step in sequence["steps"]:
        if isinstance(step, dict):
            step = (step["do"], step.get("session", ""))
        if isinstance(step, tuple):
            action, session = step
            if action == "follow":
                tuner.follow()
            else:
                getattr(tuner, action)(session)
            continue
        if isinstance(step, list):  # the frames of one read, in order (a two-part message)
            frames = [bytes.fromhex(frame) if isinstance(frame, str) else frame for frame in step]
        else:
            frames = [bytes.fromhex(step) if isinstance(step, str) else step]
        got: list[Message] = []
        tuner.take(frames, got.append)
        yielded += [[m.session, m.seq, m.payload.hex(), m.sent_at] for m in got]
    stats = tuner.snapshot()
    counters = {
        name: getattr(stats, name)
        for name in (
            "received",
            "gaps",
            "expired",
            "fenced",
            "malformed",
            "unknown_tails",
            "conflicts",
        )
    }
    return {"yielded": yielded, "stats": counters, "sessions": sorted(tuner.sessions)}


def _step_json(step: Step) -> Any:
    if isinstance(step, tuple):
        return {"do": step[0], "session": step[1]} if step[1] else {"do": step[0]}
    if isinstance(step, list):
        return [frame.hex() for frame in step]
    return step.hex()


def build() -> dict[str, Any]:
    """The whole vectors document."""
    return {
        "protocol_version": VERSION,
        "notes": "Generated by `python -m tests.vectors`; see docs/protocol.md. Frames are hex.",
        "subscriber": {
            "channel": "ch",
            "listener_id": ME.decode(),
            "monotonic": SUB_MONO,
            "wall": T0,
        },
        "frames": [
            {"name": name, "hex": frame.hex(), "expect": describe_frame(frame)}
            for name, frame in FRAMES.items()
        ],
        "messages": [
            {
                "name": name,
                "parts": [frame.hex() for frame in frames],
                "expect": describe_frame(*frames),
            }
            for name, frames in MESSAGES.items()
        ],
        "sequences": [
            {
                **{k: v for k, v in sequence.items() if k != "steps"},
                "steps": [_step_json(step) for step in sequence["steps"]],
                "expect": replay(sequence),
            }
            for sequence in SEQUENCES
        ],
    }


if __name__ == "__main__":
    PATH.parent.mkdir(parents=True, exist_ok=True)
    PATH.write_text(json.dumps(build(), indent=1) + "\n")
    sys.stdout.write(f"wrote {PATH}\n")
