"""The fault harness's pure planning parts: timelines, narrow and one-way cables, clocks, logs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tools.faults.catalog import scenarios
from tools.faults.checks_restart import split_at
from tools.faults.clock import HostClock, libfaketime, offset_text
from tools.faults.line import QUEUE_LIMIT_BYTES, Conditions, Line
from tools.faults.link import Link
from tools.faults.logread import events, stats_lines
from tools.faults.netns import Namespace
from tools.faults.record import Heard, Recorder, run_of, sent_time, stamp, stream
from tools.faults.scenario import Restart, Scenario, Step
from tools.faults.timeline import Do, timeline


class TestTimeline:
    def test_a_plain_cut_is_cut_at_the_start_and_healed_at_the_end(self) -> None:
        """Without outages, the cable is cut for the whole fault."""
        plan = timeline(Scenario("x", "x", steady_s=1.0, fault_s=4.0, cut="bc"))
        assert [(e.at_s, e.do) for e in plan] == [(0.0, Do.CUT), (4.0, Do.HEAL), (4.0, Do.END)]

    def test_outages_come_in_order_with_steps_and_a_restart(self) -> None:
        """Every event of a scenario comes once, sorted by time."""
        scenario = Scenario(
            "x",
            "x",
            steady_s=1.0,
            fault_s=5.0,
            cut="bc",
            outages=((0.0, 0.3), (1.0, 1.3)),
            steps=(Step(0.5, "a", 5.0),),
            restart=Restart(kill_at_s=0.2, start_at_s=2.0),
        )
        plan = timeline(scenario)
        assert [e.at_s for e in plan] == sorted(e.at_s for e in plan)
        assert [e.do for e in plan].count(Do.CUT) == 2
        assert [e.do for e in plan][-1] is Do.END
        assert next(e.step for e in plan if e.do is Do.STEP) == Step(0.5, "a", 5.0)

    def test_every_catalogued_scenario_has_a_timeline_within_its_fault(self) -> None:
        """No event of any scenario falls after the fault's end."""
        for scenario in scenarios(quick=False):
            plan = timeline(scenario)
            assert all(0.0 <= e.at_s <= scenario.fault_s for e in plan), scenario.name
            cuts = [e.at_s for e in plan if e.do in (Do.CUT, Do.HEAL)]
            assert cuts == sorted(cuts), scenario.name

    def test_the_quick_run_keeps_its_scenarios(self) -> None:
        """The new scenarios are in the full run only: make test stays as long."""
        quick = {s.name for s in scenarios(quick=True)}
        assert quick == {"baseline", "loss-5", "loss-30", "cut-ab-10", "cut-bc", "skew"}


class TestBandwidth:
    def test_frames_leave_at_the_line_rate(self) -> None:
        """Each frame takes its length's time on a narrow line, after the ones before it."""
        line = Line(Conditions(0.010, bandwidth=1000.0), random.Random(1))
        line.push(b"a" * 100, now=0.0)
        line.push(b"b" * 100, now=0.0)
        assert line.next_due() == pytest.approx(0.110)
        assert line.due(0.15) == [b"a" * 100]
        assert line.due(0.2101) == [b"b" * 100]

    def test_a_full_buffer_drops_on_entry(self) -> None:
        """More than the buffer holds waiting for the line is dropped, and counted."""
        line = Line(Conditions(0.0, bandwidth=1.0), random.Random(1))
        frame = b"x" * 1000
        taken = sum(line.push(frame, now=0.0) for _ in range(QUEUE_LIMIT_BYTES // 1000 + 10))
        assert taken == QUEUE_LIMIT_BYTES // 1000
        assert line.counts.overflowed == 10

    def test_a_zero_bandwidth_is_refused(self) -> None:
        """A bandwidth must be positive."""
        with pytest.raises(ValueError, match="invalid bandwidth"):
            Conditions(bandwidth=0.0)


def test_a_stamp_carries_its_run() -> None:
    """The publisher's run travels in the payload, beside the send time."""
    payload = stamp(12.5, run=2)
    assert (sent_time(payload), run_of(payload)) == (12.5, 2)
    assert stream("s1", 2) == "s1@2"


def test_an_old_instance_after_the_new_one_is_stale() -> None:
    """The same session of a restarted publisher is a new stream: its predecessor is stale."""
    record = Recorder()
    record.add(stream("s", 1), 10, 0.0, 0.0)
    record.add(stream("s", 2), 1, 0.0, 0.1)
    record.add(stream("s", 1), 11, 0.0, 0.2)
    assert (record.stale, record.duplicates, record.reordered) == (1, 0, 0)


def test_the_split_is_the_first_snapshot_with_all_of_the_old_instance(tmp_path: Path) -> None:
    """Stats are split where the subscriber had taken every message of the old instance."""
    record = Recorder()
    for seq in range(1, 4):
        record.add(stream("s", 1), seq, 0.0, 0.0)
    snapshots: list[dict[str, float]] = [
        {"received": 2, "gaps": 0},
        {"received": 3, "gaps": 1},
        {"received": 3, "gaps": 5},
    ]
    heard = Heard.parse(record.summary(), {}, snapshots)
    assert split_at(heard, stream("s", 1)) == {"received": 3, "gaps": 1}
    assert split_at(Heard.parse(record.summary(), {}, snapshots[:1]), stream("s", 1)) is None


def test_a_host_clock_is_stepped_by_rewriting_its_file(tmp_path: Path) -> None:
    """The timestamp file always holds one whole offset, in libfaketime's spelling."""
    clock = HostClock(tmp_path / "clock-c", 5.0)
    assert (tmp_path / "clock-c").read_text() == "+5s\n"
    clock.set(-30.0)
    assert (tmp_path / "clock-c").read_text() == "-30s\n"
    assert offset_text(0.0) == "+0s"
    if libfaketime() is not None:
        env = clock.env()
        assert env["FAKETIME_TIMESTAMP_FILE"] == str(tmp_path / "clock-c")
        assert env["FAKETIME_DONT_FAKE_MONOTONIC"] == "1"


def test_a_log_tells_its_events_and_stats_lines(tmp_path: Path) -> None:
    """JSON events are counted by name; radio-sub's --stats lines are read as numbers."""
    log = tmp_path / "sub.log"
    log.write_text(
        '{"event": "publisher_off_air", "silent_s": 3.1}\n'
        "received=10 gaps=2 clock_offset=-5.002 lost=2 rate=1000/s\n"
        '{"event": "publisher_off_air"}\nnot json\n'
    )
    assert events(log) == {"publisher_off_air": 2}
    assert stats_lines(log) == [{"received": 10, "gaps": 2, "clock_offset": -5.002, "lost": 2}]
    assert events(tmp_path / "missing.log") == {}


@pytest.mark.parametrize("sender", [0, 1])
def test_a_one_way_cut_drops_only_what_one_end_sends(sender: int) -> None:
    """Cut one way, the line from *sender* drops everything and the other still carries."""
    link = Link("bc", 2, (Namespace("b"), Namespace("c")))
    link.set(Conditions(0.0))
    link.cut(sender=sender)
    assert [line.conditions.cut for line in link.lines] == [sender == 0, sender == 1]
    assert not link.lines[sender].push(b"x", now=0.0)
    assert link.lines[1 - sender].push(b"x", now=0.0)
    link.cut(False)
    assert not any(line.conditions.cut for line in link.lines)
