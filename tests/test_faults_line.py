"""The fault harness's pure parts: a cable's delay, loss and cut; the subscriber's record."""

from __future__ import annotations

import os
import random

import pytest

from tools.faults.line import Conditions, Line
from tools.faults.netns import unique_name
from tools.faults.record import Heard, Recorder, sent_time, stamp


def _line(delay_s: float = 0.0, loss: float = 0.0, seed: int = 1) -> Line:
    return Line(Conditions(delay_s, loss), random.Random(seed))


class TestDelay:
    def test_a_frame_is_due_after_the_delay_not_before(self) -> None:
        """A frame pushed at t leaves at t + delay, not a moment earlier."""
        line = _line(delay_s=0.020)
        assert line.push(b"f1", now=10.0)
        assert line.due(10.019) == []
        assert line.next_due() == pytest.approx(10.020)
        assert line.due(10.020) == [b"f1"]
        assert len(line) == 0
        assert line.next_due() is None

    def test_frames_keep_their_order(self) -> None:
        """A fixed delay never reorders: frames leave in the order they came."""
        line = _line(delay_s=0.5)
        for index in range(100):
            line.push(bytes([index]), now=index * 0.001)
        assert line.due(1.0) == [bytes([index]) for index in range(100)]

    def test_only_due_frames_leave(self) -> None:
        """Frames still in flight stay queued."""
        line = _line(delay_s=1.0)
        line.push(b"early", now=0.0)
        line.push(b"late", now=0.5)
        assert line.due(1.2) == [b"early"]
        assert line.due(1.5) == [b"late"]


class TestLoss:
    def test_no_loss_passes_everything(self) -> None:
        """A loss share of 0 drops nothing."""
        line = _line()
        assert all(line.push(b"x", now=0.0) for _ in range(1000))
        assert line.counts.dropped == 0

    @pytest.mark.parametrize("share", [0.05, 0.30])
    def test_drops_about_the_share_asked(self, share: float) -> None:
        """Over many frames, the share dropped is close to the share asked."""
        line = _line(loss=share, seed=7)
        passed = sum(line.push(b"x", now=0.0) for _ in range(20_000))
        assert 1 - passed / 20_000 == pytest.approx(share, abs=0.01)
        assert line.counts.dropped == 20_000 - passed

    def test_the_same_seed_drops_the_same_frames(self) -> None:
        """Drops come from the injected random source: a seed repeats a run."""
        first, second = _line(loss=0.3, seed=3), _line(loss=0.3, seed=3)
        assert [first.push(b"x", 0.0) for _ in range(200)] == [
            second.push(b"x", 0.0) for _ in range(200)
        ]

    @pytest.mark.parametrize(("delay_s", "loss"), [(-0.1, 0.0), (0.0, 1.5), (0.0, -0.1)])
    def test_impossible_conditions_are_refused(self, delay_s: float, loss: float) -> None:
        """A negative delay or a share outside 0..1 is refused, naming the value."""
        with pytest.raises(ValueError, match="invalid"):
            Conditions(delay_s, loss)


class TestCut:
    def test_a_cut_drops_everything_silently(self) -> None:
        """While cut, nothing enters and nothing leaves."""
        line = _line(delay_s=0.01)
        line.conditions = Conditions(0.01, cut=True)
        assert not line.push(b"x", now=0.0)
        assert line.due(1.0) == []
        assert line.counts.cut == 1

    def test_a_cut_loses_the_frames_on_the_wire(self) -> None:
        """Frames in flight when the cable is cut are lost, as on a pulled cable."""
        line = _line(delay_s=0.1)
        line.push(b"in flight", now=0.0)
        line.conditions = Conditions(0.1, cut=True)
        assert line.due(0.2) == []
        line.conditions = Conditions(0.1)
        assert line.due(0.3) == []
        assert line.push(b"after the heal", now=0.3)
        assert line.due(0.4) == [b"after the heal"]


class TestRecord:
    def test_a_stamp_carries_its_send_time(self) -> None:
        """The payload tells its send time to the microsecond."""
        assert sent_time(stamp(1234.567891)) == pytest.approx(1234.567891)
        assert len(stamp(1.0)) == 100

    def test_clean_delivery_counts_nothing_wrong(self) -> None:
        """In-order, unique messages of one session: no stale, duplicate or reordered."""
        record = Recorder()
        for seq in range(1, 11):
            record.add("s1", seq, sent_mono=seq * 0.001, arrived=seq * 0.001 + 0.04)
        assert (record.stale, record.duplicates, record.reordered) == (0, 0, 0)
        assert record.received == 10
        assert record.summary()["age_max"] == pytest.approx(0.04)

    def test_a_message_of_a_session_left_behind_is_stale(self) -> None:
        """Once a newer session was heard, the older one's messages are stale."""
        record = Recorder()
        record.add("s1", 1, 0.0, 0.0)
        record.add("s2", 1, 0.0, 0.1)
        record.add("s1", 2, 0.0, 0.2)
        assert record.stale == 1
        assert record.received == 2

    def test_duplicates_and_reordering_are_told_apart(self) -> None:
        """A repeated seq is a duplicate; a lower seq never heard is out of order."""
        record = Recorder()
        for seq in (1, 3, 3, 2):
            record.add("s1", seq, 0.0, 0.0)
        assert record.duplicates == 1
        assert record.reordered == 1

    def test_silences_tell_when_a_subscriber_heard_again(self) -> None:
        """The first arrival after a silence spanning a moment is when it heard again."""
        record = Recorder()
        record.add("s1", 1, 0.0, 1.0)
        record.add("s1", 2, 0.0, 5.0)
        heard = Heard.parse(record.summary(), {})
        assert heard.heard_again(3.0) == pytest.approx(2.0)
        assert heard.heard_again(0.5) == 0.0
        assert heard.heard_again(6.0) is None
        assert heard.silent_between(2.0, 2.5) == pytest.approx(4.0)

    def test_too_old_counts_messages_past_the_limit(self) -> None:
        """A message older than too_old_s on arrival is counted."""
        record = Recorder(too_old_s=1.0)
        record.add("s1", 1, sent_mono=0.0, arrived=0.5)
        record.add("s1", 2, sent_mono=0.0, arrived=1.5)
        assert record.too_old == 1


def test_namespace_names_are_unique_per_process_and_short() -> None:
    """Names carry the pid, so concurrent runs never collide."""
    assert str(os.getpid()) in unique_name("a")
