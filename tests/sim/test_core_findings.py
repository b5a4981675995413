"""Core bugs the simulator found (issue 17), each as a minimal reproduction on the real cores.

A bug still open is ``xfail(strict=True)``: it documents the bug without failing the
suite, and fails loudly (XPASS) once the core is fixed, so that the mark comes off.
The ones without the mark were fixed and stay as regression tests (the wall-clock
step: protocol version 3, whose ages are judged on monotonic clocks). The seeds that
found each one are in docs/simulation.md ("Known failures").
"""

from __future__ import annotations

import pytest

from radio.core.names import control_topic, inbox_topic, session_topic
from radio.core.tuner import Tuner
from radio.core.wire import Beacon, Kind, encode, encode_batch, encode_beacon
from radio.message import Message

CHANNEL = "c"
T0 = 1_700_000_000.0
PUBLISHER = b"P" * 8
LISTENER = b"0123456789abcdef"


class Clock:
    """A hand-moved wall clock (and a monotonic one that never steps)."""

    def __init__(self) -> None:
        self.now = T0
        self.mono = 100.0
        self.stepped = 0.0

    def wall(self) -> float:
        return self.now + self.stepped

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += seconds
        self.mono += seconds


def _tuner(clock: Clock) -> Tuner:
    return Tuner(CHANNEL, clock=clock.wall, monotonic=clock.monotonic, listener_id=LISTENER)


def _data(
    session: str,
    seq: int,
    sent_at: float,
    ttl: float = 0.0,
    *,
    live: bool = True,
    publisher: bytes = PUBLISHER,
) -> bytes:
    payload = b"m%d" % seq
    topic = session_topic(CHANNEL, session)
    return encode(topic, Kind.DATA, seq, sent_at, payload, ttl, live=live, publisher=publisher)


def _beacon(sent_at: float, live: str, live_seq: int, interval: float = 1.0) -> bytes:
    beacon = Beacon(PUBLISHER, live, live_seq)
    return encode_beacon(control_topic(CHANNEL), 1, sent_at, interval, beacon)


def _take(tuner: Tuner, *frames: bytes) -> list[Message]:
    out: list[Message] = []
    tuner.take(list(frames), out.append)
    return out


def test_the_first_beacon_read_from_a_backlog_does_not_make_old_messages_young() -> None:
    """Honest seeds 1018168, 1000189, ...: a frozen subscriber reads its backlog.

    Its clock offset was right (built from data); the first beacon it ever reads comes
    from the backlog, resets the estimate and takes its sample from a frame 1.7 s
    late, so a message 1.7 s old with a TTL of 0.1 s is yielded.
    """
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    assert len(_take(tuner, _data("s", 1, T0, 0.1))) == 1  # fresh: the estimate is right
    sent = clock.now + 0.01
    clock.advance(1.7)  # frozen; then the backlog is read
    yielded = _take(tuner, _beacon(sent, "s", 1), _data("s", 2, sent, 0.1))
    assert yielded == []  # 1.7 s old, TTL 0.1 s: expired
    assert tuner.stats.expired == 1


def test_a_subscriber_clock_step_does_not_expire_young_messages() -> None:
    """clock_steps seeds: the subscriber's wall clock steps +5 s; young messages expire."""
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    assert len(_take(tuner, _data("s", 1, T0, 1.0))) == 1
    clock.advance(0.1)
    clock.stepped = 5.0  # NTP, a resumed VM
    assert len(_take(tuner, _data("s", 2, clock.now, 1.0))) == 1  # 0 s old, TTL 1 s


def test_one_far_future_frame_does_not_expire_everything() -> None:
    """hostile seeds: one DATA frame stamped 10^6 s ahead sets the offset to -10^6 s."""
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    _take(tuner, _data("s", 1, T0))
    _take(tuner, _data("s", 2, T0 + 1e6, 60.0))  # a rogue's, or a corrupted send time
    clock.advance(0.1)
    assert len(_take(tuner, _data("s", 3, clock.now, 60.0))) == 1


def test_two_publishers_clocks_are_estimated_apart() -> None:
    """two_publishers seeds: sessions of two publishers (clocks 100 s apart) on one channel.

    One estimate served the whole channel: the publisher whose clock is ahead set it,
    and every TTL message of the other counted as expired at once. Version 4 headers
    name their publisher instance, and each has its own estimate.
    """
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("a")
    tuner.tune_in("b")
    ahead = _data("b", 1, T0 + 100.0, 1.0, publisher=b"B" * 8)  # B's clock is 100 s ahead
    assert len(_take(tuner, ahead)) == 1
    assert len(_take(tuner, _data("a", 1, T0, 1.0))) == 1  # A's message, 0 s old


@pytest.mark.parametrize("interval", [0.0, 1e9])
def test_a_beacon_interval_of_0_or_1e9_is_malformed(interval: float) -> None:
    """hostile seeds: a beacon with interval 0 or 10^9 s is taken (issue 17: malformed)."""
    tuner = _tuner(Clock())
    tuner.follow()
    _take(tuner, _beacon(T0, "s", 0, interval))
    assert tuner.stats.malformed == 1


def test_a_beacon_claiming_live_seq_2_32_adds_bounded_gaps() -> None:
    """hostile seeds: live_seq 2**32, 1 ms after seq 1, adds 2**32 - 1 gaps."""
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    _take(tuner, _beacon(T0, "s", 0), _data("s", 1, T0))
    clock.advance(0.001)
    _take(tuner, _beacon(clock.now, "s", 2**32))
    assert tuner.stats.gaps <= 4e6 * 0.001  # what one session could carry in 1 ms


def test_a_flipped_high_seq_bit_adds_bounded_gaps() -> None:
    """hostile seeds (flip_seq): seq 2 with bit 30 flipped, 1 ms after seq 1."""
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    _take(tuner, _data("s", 1, T0))
    clock.advance(0.001)
    _take(tuner, _data("s", 2 | 1 << 30, clock.now))
    assert tuner.stats.gaps <= 4e6 * 0.001


def _inbox(session: str, body: bytes) -> bytes:
    return inbox_topic(CHANNEL, LISTENER) + session.encode("ascii") + b"/" + body


def test_an_inbox_last_value_after_the_session_was_heard_is_ignored() -> None:
    """hostile seeds (inbox_jump): a last value with seq 60 after seqs 1-2 is yielded."""
    tuner = _tuner(Clock())
    tuner.tune_in("s")
    assert len(_take(tuner, _data("s", 1, T0), _data("s", 2, T0))) == 2
    last_value = _data("s", 60, T0)[len(session_topic(CHANNEL, "s")) :]
    assert _take(tuner, _inbox("s", last_value)) == []
    assert tuner.stats.gaps == 0


def test_a_batch_in_an_inbox_is_not_delivered() -> None:
    """hostile seeds (inbox_batch): a BATCH in an inbox yields its messages."""
    tuner = _tuner(Clock())
    tuner.tune_in("s")
    batch = encode_batch(b"", 1, 0.0, [(T0, b"x"), (T0, b"y")], live=True, publisher=PUBLISHER)
    assert _take(tuner, _inbox("s", batch)) == []


def test_a_hello_below_what_was_heard_does_not_count_it_again() -> None:
    """two_publishers seeds 2, ...: behind a relay every publisher answers a tune-in.

    The one that lacks the session says HELLO with seq 0; the subscriber, re-tuned
    and awaiting, takes it as its baseline, so the next beacon counts as gaps the
    messages it had received before the re-tune and fenced since.
    """
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    assert len(_take(tuner, _data("s", 1, T0), _data("s", 2, T0), _data("s", 3, T0))) == 3
    tuner.tune_out("s")
    tuner.tune_in("s")  # a re-tune: awaits the HELLO
    _take(tuner, _data("s", 4, T0))  # sent before the re-tune: fenced
    tag = next(iter(tuner.dial.heard.values())).tag
    other = b"Q" * 8  # the other publisher: it has no "s"
    hello = encode(b"", Kind.HELLO, 0, T0, tag, publisher=other)
    _take(tuner, _inbox("s", hello))
    _take(tuner, _beacon(T0, "s", 4))
    assert tuner.stats.gaps == 0  # 1-3 received, 4 fenced: nothing was lost


def test_a_follower_cleared_by_a_restarted_publisher_counts_the_next_head() -> None:
    """clean_switch seeds 262, 279, 515, 534, 618, 685, 779 (every failing one of 0-999).

    A follower hears session a of publisher P. P crashes; it restarts as Q, opens b
    and closes it at once (a clean switch: close, then open c). Q's first beacon the
    follower reads names no live session (b ended): the follower, still following,
    is moved off a to nothing. Then c goes live; its first messages are sent before
    the follower's subscription to c reaches Q. The follower was following all
    along, so c's head is its loss, as after an END (`Dial.between_sessions`), and
    as when Q's first beacon names c at once (a restart is a move); but a move to
    nothing clears that flag, so c is counted from the first message read. The fix:
    `Dial.move_to` keeps ``between_sessions = live is None and from_start``.
    """
    clock = Clock()
    tuner = _tuner(clock)
    tuner.follow()
    _take(tuner, _beacon(T0, "a", 0))
    assert [m.seq for m in _take(tuner, _data("a", 1, T0))] == [1]
    clock.advance(5.0)  # P crashed: silent for more than three beacon intervals
    restarted = Beacon(b"Q" * 8, "", 0, ended=(("b", 0),))
    _take(tuner, encode_beacon(control_topic(CHANNEL), 1, clock.now, 1.0, restarted))
    assert (tuner.following, tuner.live) == (True, None)
    clock.advance(0.1)
    live = Beacon(b"Q" * 8, "c", 0, ended=(("b", 0),))
    _take(tuner, encode_beacon(control_topic(CHANNEL), 2, clock.now, 1.0, live))
    assert tuner.live == "c"
    clock.advance(0.05)
    heard = _take(tuner, _data("c", 4, clock.now, publisher=b"Q" * 8))
    assert [m.seq for m in heard] == [4]  # c 1-3: sent before
    assert tuner.stats.gaps == 3


def test_a_far_past_stamp_opens_no_long_span_for_gaps() -> None:
    """hostile seed 69: a forged frame stamped 10^6 s in the past sets the session's last
    send time; a forged beacon's live seq 2^32 then passed the gap bound on the
    publisher's clock (10^6 s at 10^7 messages a second). Nothing heard was sent
    before the tune-in, so the span counts from no earlier than that."""
    clock = Clock()
    clock.mono = 5e6  # the publisher's clock too: up for two months
    tuner = _tuner(clock)
    _take(tuner, _beacon(clock.mono, "", 0))
    clock.advance(0.5)
    tuner.tune_in("s")
    _take(tuner, _data("s", 23, clock.mono - 1e6, 1.0))  # forged, far past: expired
    clock.advance(0.3)
    _take(tuner, _beacon(clock.mono, "s", 2**32))
    assert tuner.stats.gaps <= 4e6 * 1.0


def test_honest_frames_behind_a_forged_seq_bound_the_next_gap_from_their_send_time() -> None:
    """hostile seeds 1301615, 1301843 (``--faults hostile,oversize,strict``), 1300484, ...:
    a real frame copied with its seq bit-flipped far ahead is taken (a plausible gap),
    and the honest frames after it are fenced, being behind. A second flipped copy, of
    a frame sent seconds after the first copy's, counted seconds' worth of gaps (at
    10^7 a second), though the honest frames had just shown the session at seq 6: the
    bound ran from the first copy's send time. A frame behind is evidence now: the
    gap is bounded from its send time, and the second copy counts nothing."""
    clock = Clock()
    tuner = _tuner(clock)
    tuner.tune_in("s")
    first = clock.now
    assert len(_take(tuner, _data("s", 1, first))) == 1
    clock.advance(0.01)
    assert len(_take(tuner, _data("s", 50, first))) == 1  # #1 copied, its seq flipped
    for seq in range(2, 7):
        clock.advance(0.5)
        assert _take(tuner, _data("s", seq, clock.now)) == []  # honest, behind 50: fenced
    clock.advance(0.01)
    gaps = tuner.stats.gaps
    flipped = _data("s", 50 + 15_000_000, clock.now - 0.005)  # a recent one, flipped
    assert _take(tuner, flipped) == []
    assert tuner.stats.gaps == gaps  # implausible: 15 million in 15 ms


def _retuned(clock: Clock, publisher: bytes) -> Tuner:
    """A tuner that heard seq 1 of "s" from *publisher*, then re-tuned to "s"."""
    tuner = _tuner(clock)
    tuner.tune_in("s")
    assert len(_take(tuner, _data("s", 1, T0, publisher=publisher))) == 1
    clock.advance(0.01)
    tuner.tune_out("s")
    tuner.tune_in("s")  # a re-tune: awaits the HELLO
    return tuner


def _hello(tuner: Tuner, seq: int, sent_at: float, publisher: bytes) -> bytes:
    tag = next(iter(tuner.dial.heard.values())).tag
    return _inbox("s", encode(b"", Kind.HELLO, seq, sent_at, tag, publisher=publisher))


def test_a_send_time_stamped_ahead_does_not_end_the_wait_of_a_re_tune() -> None:
    """hostile seed 700695 (``--faults oversize,hostile``): a follower, frozen, read a
    forged END and a forged beacon (it left the live session and came back: a re-tune,
    awaiting the HELLO), then a forged DATA frame with a bit of its send time flipped,
    far ahead. "Clearly sent after the re-tune" ended the wait, and the honest backlog
    sent before the re-tune was yielded: stale. A send time later than the frame's
    arrival proves nothing now; the wait goes on until one that is plausible."""
    clock = Clock()
    tuner = _retuned(clock, PUBLISHER)
    stale = _data("s", 3, clock.now - 0.005)  # sent before the re-tune, read late
    assert _take(tuner, _data("s", 2, clock.now + 1e6)) == []  # stamped 10^6 s ahead
    assert _take(tuner, stale) == []
    assert tuner.stats.fenced == 2
    clock.advance(1.5)  # the HELLO was lost: a message sent well after the re-tune
    assert [m.seq for m in _take(tuner, _data("s", 4, clock.now))] == [4]


def test_a_hello_saying_0_ends_the_wait_for_its_own_publishers_frames_only() -> None:
    """Seeds 899838211148, ... (clock_steps,clean_switch,same_name_restart,quick_retune,
    two_publishers): two publishers answer a re-tune; the one that lacks the session says
    HELLO 0 first. That ended the wait for every publisher, so the other one's message,
    sent before the re-tune and read late (a cut), was yielded: stale. A HELLO saying 0
    now ends the wait for its own publisher's frames only."""
    clock = Clock()
    owner, other = b"O" * 8, b"Q" * 8  # the session's publisher; one that lacks it
    tuner = _retuned(clock, owner)
    stale = _data("s", 2, clock.now - 0.005, publisher=owner)  # sent before the re-tune
    _take(tuner, _hello(tuner, 0, clock.now, other))
    clock.advance(0.01)
    assert _take(tuner, stale) == []  # read after the other's HELLO: still fenced
    assert tuner.stats.fenced == 1


def test_a_hello_saying_0_lets_its_publishers_first_message_through() -> None:
    """The ordinary case the fix keeps: one publisher, re-tuned to before its next message;
    its HELLO says 0 (nothing of the session yet since it restarted, say), its message
    sent right after is yielded, not fenced for a second."""
    clock = Clock()
    only = b"O" * 8
    tuner = _retuned(clock, b"R" * 8)  # heard from an instance before a restart
    _take(tuner, _hello(tuner, 0, clock.now, only))
    clock.advance(0.01)
    assert [m.seq for m in _take(tuner, _data("s", 1, clock.now, publisher=only))] == [1]


def test_a_hello_saying_0_sets_no_baseline_for_another_publishers_frames() -> None:
    """What was left of seeds 899838211148 (an overcount the accounting invariant took
    for the rule): two publishers answer a re-tune and the one that lacks the session
    says HELLO 0 first. Its baseline of 0 made seq 1, heard before the re-tune, count
    as a gap when the owner's stale seq 2 was fenced. A HELLO saying 0 that names no
    instance now sets the baseline for its own publisher's frames only; the owner's
    HELLO sets the owner's."""
    clock = Clock()
    owner, other = b"O" * 8, b"Q" * 8
    tuner = _retuned(clock, owner)
    stale = _data("s", 2, clock.now - 0.005, publisher=owner)  # sent before the re-tune
    _take(tuner, _hello(tuner, 0, clock.now, other))
    clock.advance(0.01)
    assert _take(tuner, stale) == []
    _take(tuner, _hello(tuner, 2, clock.now, owner))
    clock.advance(0.01)
    assert [m.seq for m in _take(tuner, _data("s", 3, clock.now, publisher=owner))] == [3]
    assert (tuner.stats.gaps, tuner.stats.fenced, tuner.stats.received) == (0, 1, 2)


def test_a_hello_saying_0_still_counts_its_own_publishers_head() -> None:
    """The baseline of 0 stands for the publisher that said it: its first message heard
    is seq 3, so 1 and 2 were sent after the tune-in and lost."""
    clock = Clock()
    only = b"O" * 8
    tuner = _retuned(clock, b"R" * 8)
    _take(tuner, _hello(tuner, 0, clock.now, only))
    clock.advance(0.01)
    assert [m.seq for m in _take(tuner, _data("s", 3, clock.now, publisher=only))] == [3]
    assert tuner.stats.gaps == 2
