"""Where a read goes on from: `Tuner.continuation`, `continued` and `take_on`."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from radio.core.tuner import Tuner
from radio.message import Message
from tests.core.test_tuner import Clock, batch, beacon, data, end, new_tuner


def _tuned(*frames: bytes) -> tuple[Tuner, list[Message]]:
    tuner = new_tuner("ch", Clock())
    tuner.tune_in("s1")
    out: list[Message] = []
    tuner.take(list(frames), out.append)
    return tuner, out


def test_a_run_goes_on_from_where_take_left_off() -> None:
    """After plain DATA frames, the next read goes on from the last seq taken."""
    tuner, out = _tuned(data("s1", 1), data("s1", 2), data("s1", 3))
    state = tuner.continuation()
    assert state is not None
    lead, channel, session, last = state[:4]
    assert data("s1", 4).startswith(lead)
    assert (channel, session, last) == ("ch", "s1", 3)
    tuner.take_on([data("s1", 4), data("s1", 5, b"five")], out.append)
    assert [m.seq for m in out] == [1, 2, 3, 4, 5]
    assert out[-1].payload == b"five"
    assert tuner.stats.received == 5
    continued = tuner.continuation()
    assert continued is not None
    assert continued[3] == 5


def test_continued_moves_the_session_on() -> None:
    """What went on is the session's: the next frame after it is the next seq, no gap."""
    tuner, out = _tuned(data("s1", 1), data("s1", 2))  # the first sets the clock: careful
    assert tuner.continuation() is not None
    tuner.continued(5, 1000.0, 3)  # as a reader that took seqs 3, 4 and 5 itself
    tuner.take([data("s1", 6)], out.append)
    assert [m.seq for m in out] == [1, 2, 6]
    assert (tuner.stats.received, tuner.stats.gaps) == (6, 0)


def test_nothing_goes_on_after_a_tune_out_or_a_re_tune() -> None:
    """A session tuned out of, or tuned in to again (awaiting its HELLO), goes on from nothing."""
    tuner, _ = _tuned(data("s1", 1), data("s1", 2))
    assert tuner.continuation() is not None
    tuner.tune_out("s1")
    assert tuner.continuation() is None
    tuner, _ = _tuned(data("s1", 1), data("s1", 2))
    tuner.tune_out("s1")
    tuner.tune_in("s1")
    assert tuner.continuation() is None


def test_a_frame_of_another_kind_last_leaves_nothing_to_go_on_from() -> None:
    """An END, a beacon or another session's frame last: the next read starts afresh."""
    for last in (end("s1", 1), beacon("s1", 1), data("s2", 1)):
        tuner, _ = _tuned(data("s1", 1), data("s1", 2), last)
        assert tuner.continuation() is None, last


def test_plain_batches_go_on_too() -> None:
    """A plain BATCH frame (batch_size, send_many) leaves a run to go on from, and the
    batches after it go on in it whole."""
    tuner, out = _tuned(data("s1", 1), batch("s1", 2, [b"a", b"b"]))
    state = tuner.continuation()
    assert state is not None
    assert state[3] == 3
    tuner.take_on([batch("s1", 4, [b"c", b"d", b"e"]), data("s1", 7)], out.append)
    assert [m.seq for m in out] == list(range(1, 8))
    assert tuner.stats.received == 7


_READS = st.lists(
    st.one_of(
        st.tuples(st.just("tune"), st.sampled_from(["in s1", "out s1", "in s2", "follow"])),
        st.tuples(
            st.just("read"),
            st.lists(
                st.tuples(
                    st.sampled_from(["data", "data", "data", "batch", "ttl", "beacon", "end"]),
                    st.sampled_from(["s1", "s1", "s2"]),
                    st.sampled_from([1, 1, 1, 0, 3, -1]),  # the next seq, a repeat, a gap...
                ),
                max_size=8,
            ),
        ),
    ),
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(steps=_READS)
def test_take_on_yields_what_take_yields(steps: list[tuple[str, object]]) -> None:
    """Differential: reads taken with `take_on` (a run going on first) yield the same
    messages, in order, with the same counts, as with `take`, across re-tunes, gaps,
    repeats, batches, TTLs, beacons and ENDs."""
    tuners = [new_tuner("ch", Clock()) for _ in range(2)]
    outs: list[list[Message]] = [[], []]
    seqs = {"s1": 0, "s2": 0}
    for kind, what in steps:
        frames: list[bytes] = []
        if kind == "read":
            assert isinstance(what, list)
            for shape, session, step in what:
                seqs[session] = max(seqs[session] + step, 1)
                seq = seqs[session]
                if shape == "batch":
                    frames.append(batch(session, seq, [b"a", b"b"]))
                    seqs[session] += 1
                elif shape == "beacon":
                    frames.append(beacon(session, seq))
                elif shape == "end":
                    frames.append(end(session, seq))
                else:
                    frames.append(data(session, seq, b"%d" % seq, ttl=5.0 if shape == "ttl" else 0))
        for tuner, out, take in zip(tuners, outs, ("take", "take_on"), strict=True):
            if kind == "tune":
                if what == "follow":
                    tuner.follow()
                elif isinstance(what, str):
                    verb, session = what.split()
                    if verb == "in":
                        tuner.tune_in(session)
                    elif session in tuner.sessions:
                        tuner.tune_out(session)
            else:
                getattr(tuner, take)(list(frames), out.append)
    assert outs[1] == outs[0]
    assert tuners[1].stats == tuners[0].stats
