"""The publisher's pure core: sessions, LIVE flags, END, beacons, batches, last value, presence."""

from __future__ import annotations

import itertools

import pytest

from radio import MessageTooLargeError, SessionClosedError, SessionError, UnknownSessionError
from radio.core.announcer import END_REPEATS
from radio.core.names import control_topic, inbox_topic, marker_topic, session_topic
from radio.core.transmitter import MAX_RECENT_RANDOM_ENDED, Transmitter
from radio.core.tuner import Tuner
from radio.core.wire import (
    HEADER,
    LIVE,
    MAX_BATCH_MESSAGES,
    PART_THRESHOLD,
    Frame,
    Kind,
    decode,
    decode_parts,
    decode_records,
    encode,
    encode_batch,
    encode_inbox,
    split_inbox,
)
from radio.message import Message

LISTENER = b"0123456789abcdef"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def core(clock: Clock | None = None, **settings: object) -> Transmitter:
    clock = clock or Clock()
    return Transmitter("ch", clock=clock, monotonic=clock, **settings)  # type: ignore[arg-type]


def kinds(frames: list[bytes]) -> list[tuple[Kind, str, bool]]:
    return [(f.kind, f.session, f.live) for f in map(decode, frames)]


def joined(session: str, listener: bytes = LISTENER) -> bytes:
    return b"\x01" + marker_topic(session_topic("ch", session), listener)


def left(session: str, listener: bytes = LISTENER) -> bytes:
    return b"\x00" + marker_topic(session_topic("ch", session), listener)


class TestSessions:
    def test_opening_makes_the_session_live_and_announces_it(self) -> None:
        """open returns one beacon naming the new session; its frames carry LIVE."""
        tx = core()
        assert kinds(tx.open("s1")) == [(Kind.BEACON, "s1", False)]
        assert tx.live == "s1"
        assert decode(tx.send("s1", b"x", 0.0)[0]).live

    def test_a_newer_session_takes_the_live_flag(self) -> None:
        """The old session's frames lose LIVE once a newer one opens; closing it hands it back."""
        tx = core()
        tx.open("s1")
        tx.open("s2")
        assert tx.live == "s2"
        assert not decode(tx.send("s1", b"x", 0.0)[0]).live
        assert decode(tx.send("s2", b"x", 0.0)[0]).live
        frames = tx.close("s2")
        assert kinds(frames) == [(Kind.END, "s2", False), (Kind.BEACON, "s1", False)]
        assert decode(tx.send("s1", b"x", 0.0)[0]).live

    def test_closing_sends_the_end_with_the_last_seq(self) -> None:
        """END carries the seq of the last message sent, so a lost tail is counted."""
        tx = core()
        tx.open("s1")
        for _ in range(3):
            tx.send("s1", b"x", 0.0)
        end = decode(tx.close("s1")[0])
        assert (end.kind, end.seq) == (Kind.END, 3)

    def test_a_closed_session_never_reopens_and_refuses_sends(self) -> None:
        """Closed is for ever: its subscribers were told it is over."""
        tx = core()
        tx.open("s1")
        tx.close("s1")
        with pytest.raises(SessionClosedError):
            tx.open("s1")
        with pytest.raises(SessionClosedError):
            tx.send("s1", b"x", 0.0)
        with pytest.raises(UnknownSessionError):
            tx.send("nope", b"x", 0.0)
        tx.open("s2")
        with pytest.raises(SessionError, match="already open"):
            tx.open("s2")

    def test_private_sessions_are_never_live_nor_remembered(self) -> None:
        """A desk client's session is its own: followers never move to it."""
        tx = core()
        tx.open("public")
        assert tx.open("mine", private=True) == []  # the live session did not change
        assert tx.live == "public"
        assert not decode(tx.send("mine", b"x", 0.0)[0]).live
        assert kinds(tx.close("mine")) == [(Kind.END, "mine", False)]  # no beacon either
        assert "mine" not in tx._ended  # a desk session's random ID cannot come back

    def test_random_ids_are_forgotten_once_closed(self) -> None:
        """Sessions that are not remembered leave nothing behind: memory stays flat."""
        tx = core()
        for i in range(5000):
            tx.open(f"r{i}", remembered=False)
            tx.close(f"r{i}")
        assert not tx._ended
        assert len(tx._ended_random) == MAX_RECENT_RANDOM_ENDED
        with pytest.raises(SessionClosedError):
            tx.send("r4999", b"late", 0.0)  # a recent one still gets the precise error
        tx.open("named")
        tx.close("named")
        assert list(tx._ended) == ["named"]

    def test_end_repeats_ride_on_the_next_beacons(self) -> None:
        """A dropped END is repeated on the next END_REPEATS scheduled beacons, a beacon
        interval apart (not on the beacons that openings send at once), then no more."""
        clock = Clock()
        tx = core(clock, beacon_interval=1.0)
        tx.open("s1")
        assert [f.kind for f in map(decode, tx.close("s1"))] == [Kind.END, Kind.BEACON]
        repeats = 0
        for _ in range(END_REPEATS + 2):
            tx.open(f"churn-{repeats}-{clock.now}")  # its beacon carries no repeat
            clock.now += 1.0
            repeats += sum(f.kind is Kind.END for f in map(decode, tx.tick()))
        assert repeats == END_REPEATS

    def test_close_all_ends_every_session_then_beacons_nothing_live(self) -> None:
        """The publisher's last words: an END per session and a beacon naming none."""
        tx = core()
        tx.open("s1")
        tx.open("s2")
        frames = kinds(tx.close_all())
        assert frames[-1] == (Kind.BEACON, "", False)
        assert {(k, s) for k, s, _ in frames[:-1] if k is Kind.END} == {
            (Kind.END, "s1"),
            (Kind.END, "s2"),
        }
        assert tx.live is None
        assert not tx.sessions

    def test_too_large_a_message_is_refused_and_not_numbered(self) -> None:
        """The size check comes before the seq: a refused message leaves no gap."""
        tx = core(max_frame=100)
        tx.open("s1")
        with pytest.raises(MessageTooLargeError, match="100-byte"):
            tx.send("s1", b"x" * 100, 0.0)
        assert decode(tx.send("s1", b"ok", 0.0)[0]).seq == 1

    def test_frames_pack_many_into_one_batch_frame_with_one_send_time(self) -> None:
        """SessionState.frames numbers each payload after the last (one send time) and packs
        them into a BATCH frame, LIVE as the session is: what wire.encode_batch writes."""
        tx = core()
        tx.open("s1")
        tx.send("s1", b"first", 0.0)
        frames = tx.session("s1").frames([b"a", b"bb", b""], 2.5, 1234.5)
        assert frames == [
            encode_batch(
                session_topic("ch", "s1"),
                2,
                2.5,
                [(1234.5, b"a"), (1234.5, b"bb"), (1234.5, b"")],
                live=True,
                publisher=tx.publisher_id,
            )
        ]
        assert tx.session("s1").seq == 4
        (alone,) = tx.session("s1").frames([b"one"], 0.0, 1235.0)  # a run of one: DATA
        assert (decode(alone).kind, decode(alone).seq, decode(alone).payload) == (
            Kind.DATA,
            5,
            b"one",
        )

    def test_frames_fill_batches_up_to_their_count_and_size(self) -> None:
        """At most MAX_BATCH_MESSAGES records a frame and no frame over max_frame; a payload
        too large for a record goes alone as DATA; the seqs run on, in order, across them."""
        tx = core(max_frame=1000)
        tx.open("s1")
        state = tx.session("s1")
        many = [b"%d" % i for i in range(600)]
        frames = state.frames(many, 0.0, 1000.0)
        offset = len(session_topic("ch", "s1")) + HEADER.size
        assert all(len(f) <= 1000 for f in frames)
        assert all(decode(f).kind is Kind.BATCH for f in frames)
        records = [decode_records(f, offset) for f in frames]
        assert [p for run in records for _, p in run] == many
        assert max(len(run) for run in records) <= MAX_BATCH_MESSAGES
        assert [decode(f).seq for f in frames] == list(
            itertools.accumulate([1] + [len(run) for run in records[:-1]])
        )
        state = core(max_frame=1000)
        state.open("s1")
        big = b"x" * state.session("s1").max_payload  # fits a frame, not a record
        mixed = [b"a" * 400, b"b" * 400, b"c" * 400, big, b"d"]
        frames = state.session("s1").frames(mixed, 0.0, 1000.0)
        shapes = [(decode(f).kind, decode(f).seq) for f in frames]
        assert shapes == [(Kind.BATCH, 1), (Kind.DATA, 3), (Kind.DATA, 4), (Kind.DATA, 5)]
        assert [p for _, p in decode_records(frames[0], offset)] == mixed[:2]
        assert [decode(f).payload for f in frames[1:]] == mixed[2:]

    def test_a_superseded_session_sends_its_batches_without_the_live_flag(self) -> None:
        """send_many's BATCH frames carry LIVE while the session is live, and only then."""
        tx = core()
        tx.open("s1")
        assert decode(tx.send_many("s1", [b"a", b"b"], 0.0)[0]).live
        tx.open("s2")
        (frame,) = tx.send_many("s1", [b"c", b"d"], 0.0)
        assert (decode(frame).kind, decode(frame).live) == (Kind.BATCH, False)
        tx.close("s2")
        assert decode(tx.send_many("s1", [b"e", b"f"], 0.0)[0]).live

    def test_messages_frame_two_part_ones_on_their_own(self) -> None:
        """SessionState.messages: frames, or with a two-part message each on its own."""
        tx = core()
        tx.open("s1")
        large = b"x" * PART_THRESHOLD
        out = tx.send_many("s1", [b"a", large, b"b"], 0.0)
        assert isinstance(out[1], tuple)
        head, part = out[1]
        assert part is large
        assert decode_parts(head, part).seq == 2
        assert [decode(f).payload for f in (out[0], out[2]) if isinstance(f, bytes)] == [
            b"a",
            b"b",
        ]
        (batch,) = tx.send_many("s1", [b"c", b"d"], 0.0, 5.0)
        assert isinstance(batch, bytes)
        assert (decode(batch).kind, decode(batch).seq, decode(batch).sent_at) == (
            Kind.BATCH,
            4,
            5.0,
        )

    def test_frames_refuse_them_all_when_one_is_too_large(self) -> None:
        """One payload too large for a frame: nothing is numbered, the next seq is 1."""
        tx = core(max_frame=100)
        tx.open("s1")
        with pytest.raises(MessageTooLargeError, match="100-byte"):
            tx.session("s1").frames([b"ok", b"x" * 100], 0.0, 1000.0)
        assert tx.session("s1").seq == 0
        assert tx.session("s1").frames([], 0.0, 1000.0) == []

    def test_frame_is_one_path_for_every_kind_of_session(self) -> None:
        """frame numbers and frames a plain message; a two-part head, a batch, a last value."""
        tx = core()
        tx.open("s1")
        state = tx.session("s1")
        topic = session_topic("ch", "s1")
        frame = state.frame(b"hi", 2.5, 1234.5)
        assert frame == encode(
            topic, Kind.DATA, 1, 1234.5, b"hi", 2.5, live=True, publisher=tx.publisher_id
        )
        large = b"x" * PART_THRESHOLD
        head = state.frame(large, 0.0, 1234.5)
        assert state.parted(large)
        assert head is not None
        assert decode_parts(head, large).payload == large
        assert state.seq == 2
        batching = core(batch_size=4)
        batching.open("s1")
        assert batching.session("s1").frame(b"hi", 0.0, 1234.5) is None  # waits in its batch
        assert not batching.session("s1").parted(large)
        keeping = core(keep_last=True)
        keeping.open("s1")
        assert keeping.session("s1").frame(b"hi", 0.0, 1234.5) == encode(
            topic, Kind.DATA, 1, 1234.5, b"hi", 0.0, live=True, publisher=keeping.publisher_id
        )
        assert keeping.session("s1").last == (1, 1234.5, 0.0, b"hi", Kind.DATA | LIVE)

    def test_frame_refuses_a_payload_over_the_limit_on_every_branch(self) -> None:
        """The plain branch stops below the limit: one byte over it raises, numbering nothing."""
        for settings in ({}, {"keep_last": True}, {"batch_size": 4}):
            tx = core(max_frame=200, **settings)
            tx.open("s1")
            state = tx.session("s1")
            assert state.frame(b"x" * state.max_payload, 0.0, 1.0) is not None or settings
            with pytest.raises(MessageTooLargeError):
                state.frame(b"x" * (state.max_payload + 1), 0.0, 1.0)
            assert state.seq == 1

    def test_frames_leave_two_part_messages_to_frame(self) -> None:
        """A payload that goes in two parts: frames numbers none and returns None."""
        tx = core()
        tx.open("s1")
        state = tx.session("s1")
        assert state.frames([b"small", b"x" * PART_THRESHOLD], 0.0, 1000.0) is None
        assert state.seq == 0
        batching = core(batch_size=4)
        batching.open("s1")  # a batch keeps single-frame records, large or not
        frames = batching.session("s1").frames([b"x" * PART_THRESHOLD], 0.0, 1000.0)
        assert frames == []
        assert batching.session("s1").seq == 1

    @pytest.mark.parametrize("settings", [{"batch_size": 2}, {"keep_last": True}])
    def test_frames_batch_and_keep_the_last_value_as_frame_does(
        self, settings: dict[str, object]
    ) -> None:
        """A batching session gets BATCH frames; a last-value session keeps the newest."""
        tx = core(**settings)
        tx.open("s1")
        state = tx.session("s1")
        frames = state.frames([b"a", b"b", b"c"], 0.0, 1000.0)
        assert state.seq == 3
        if "batch_size" in settings:
            assert [decode(f).kind for f in frames] == [Kind.BATCH]
            assert state.flush() is not None  # c waits in the next batch
        else:
            assert [decode(f).payload for f in frames] == [b"a", b"b", b"c"]
            assert state.last is not None
            assert state.last.payload == b"c"


class TestBeaconsAndBatches:
    def test_beacons_follow_the_interval(self) -> None:
        """tick sends a beacon when one is due and nothing in between."""
        clock = Clock()
        tx = core(clock, beacon_interval=1.0)
        assert kinds(tx.tick()) == [(Kind.BEACON, "", False)]
        clock.now += 0.5
        assert tx.tick() == []
        clock.now += 0.5
        assert [f.ttl for f in map(decode, tx.tick())] == [1.0]  # ttl holds the interval

    @pytest.mark.parametrize("step", [-30.0, -5.0, 5.0, 3600.0])
    def test_a_wall_clock_step_does_not_move_the_beacon_schedule(self, step: float) -> None:
        """Beacons go by the monotonic clock: a step of the wall clock, back or forward,
        neither silences the channel nor sends beacons early."""
        wall, mono = Clock(), Clock(50.0)
        tx = Transmitter("ch", clock=wall, monotonic=mono, beacon_interval=1.0)
        assert len(tx.tick()) == 1
        wall.now += step
        mono.now += 0.5
        assert tx.tick() == []
        mono.now += 0.5
        assert kinds(tx.tick()) == [(Kind.BEACON, "", False)]

    @pytest.mark.parametrize("step", [-3600.0, -5.0, 5.0, 3600.0])
    def test_frames_carry_the_monotonic_clock_and_beacons_the_wall_clock_too(
        self, step: float
    ) -> None:
        """Version 3: every send time is the monotonic clock, so a wall-clock step moves
        none of them (nor a batch's delay, nor a last value's TTL); a beacon's wall
        field is the wall clock when it was sent, step included."""
        wall, mono = Clock(1.7e9), Clock(50.0)
        tx = Transmitter(
            "ch", clock=wall, monotonic=mono, batch_size=10, batch_delay=0.01, keep_last=True
        )
        [opening] = tx.open("s1")
        assert decode(opening).sent_at == 50.0
        assert decode(opening).beacon.wall == 1.7e9  # type: ignore[union-attr]
        wall.now += step
        mono.now += 0.005
        assert tx.send("s1", b"a", 5.0) == []
        assert tx.tick() == []  # the batch waits 10 ms on the monotonic clock, step or not
        mono.now += 0.02
        [batch] = tx.tick()
        assert decode(batch).sent_at == 50.005
        assert [t for t, _ in decode_records(batch, len(batch) - len(decode(batch).payload))] == [
            50.005
        ]
        mono.now += 1.0
        *_, scheduled = tx.tick()
        assert decode(scheduled).sent_at == mono.now
        assert decode(scheduled).beacon.wall == pytest.approx(1.7e9 + step + 1.025)  # type: ignore[union-attr]
        inbox = inbox_topic("ch", LISTENER) + b"s1/"
        _hello, last = tx.sessions["s1"].welcome(inbox, b"1", mono.now)  # a last value: young
        assert split_inbox(last, inbox_topic("ch", LISTENER))[0] == b"s1/"  # 1 s old, ttl 5 s

    def test_a_batch_is_sent_when_its_delay_is_over(self) -> None:
        """Batched messages wait at most batch_delay, then tick sends them."""
        clock = Clock()
        tx = core(clock, batch_size=10, batch_delay=0.01)
        tx.tick()
        tx.open("s1")
        assert tx.send("s1", b"a", 0.0) == []
        assert tx.tick() == []
        clock.now += 0.02
        (frame,) = tx.tick()
        assert decode(frame).kind is Kind.BATCH

    def test_a_switch_sends_the_old_batch_first_under_its_old_flag(self) -> None:
        """Messages sent before a new session opened arrive before its beacon, still LIVE."""
        tx = core(batch_size=10)
        tx.open("s1")
        tx.send("s1", b"a", 0.0)
        frames = tx.open("s2")
        assert kinds(frames) == [(Kind.BATCH, "s1", True), (Kind.BEACON, "s2", False)]
        tx.send("s1", b"b", 0.0)
        assert kinds(tx.flush()) == [(Kind.BATCH, "s1", False)]

    def test_closing_sends_the_last_batch_before_the_end(self) -> None:
        """A session's tail travels before its END."""
        tx = core(batch_size=10)
        tx.open("s1")
        tx.send("s1", b"a", 0.0)
        tx.send("s1", b"b", 0.0)
        frames = tx.close("s1")
        assert [f.kind for f in map(decode, frames)][:2] == [Kind.BATCH, Kind.END]
        assert decode(frames[1]).seq == 2


class TestPresence:
    def test_a_tune_in_and_out_are_counted_and_reported(self) -> None:
        """Marker subscriptions count listeners and queue a ListenerEvent each."""
        tx = core()
        tx.open("s1")
        tx.send("s1", b"x", 0.0)
        (hello,) = tx.hear(joined("s1"))  # the newcomer learns from when it is heard
        session, body = split_inbox(hello, inbox_topic("ch", LISTENER))
        as_frame = decode(session_topic("ch", "s1") + body[:1] + b"\x01" + body[2:])
        assert as_frame.publisher == tx.publisher_id
        assert (session, body[1], as_frame.seq) == (b"s1/", Kind.HELLO, 1)
        assert tx.listeners("s1") == 1
        assert tx.take_presence_changed()
        assert not tx.take_presence_changed()
        tx.hear(left("s1"))
        assert tx.listeners("s1") == 0
        assert [(e.session, e.joined, e.listeners) for e in tx.events] == [
            ("s1", True, 1),
            ("s1", False, 0),
        ]

    def test_a_newcomer_on_the_channel_gets_a_beacon_at_once(self) -> None:
        """A control-topic join makes the next tick send a beacon, whatever the schedule."""
        tx = core(beacon_interval=1000.0)
        tx.tick()
        assert tx.tick() == []
        tx.hear(b"\x01" + marker_topic(control_topic("ch"), LISTENER))
        assert tx.channel_listeners() == 1
        assert kinds(tx.tick()) == [(Kind.BEACON, "", False)]

    def test_plain_and_inbox_subscriptions_count_nobody(self) -> None:
        """Only presence markers count: a plain topic or an inbox is no listener."""
        tx = core()
        tx.open("s1")
        tx.hear(b"\x01" + session_topic("ch", "s1"))
        tx.hear(b"\x01" + inbox_topic("ch", LISTENER))
        tx.hear(b"\x01" + marker_topic(inbox_topic("ch", LISTENER), b"x"))
        assert tx.listeners("s1") == 0
        assert not tx.events


class TestLastValue:
    def test_a_newcomer_gets_the_latest_message_in_its_inbox(self) -> None:
        """The inbox frame carries the session's newest message, to that listener alone."""
        tx = core(keep_last=True)
        tx.open("s1")
        tx.send("s1", b"old", 0.0)
        tx.send("s1", b"new", 30.0)
        hello, frame = tx.hear(joined("s1", LISTENER + b".7"))
        inbox = inbox_topic("ch", LISTENER)
        assert frame.startswith(inbox)
        session, body = split_inbox(frame, inbox)
        assert session == b"s1/"
        as_data = decode(session_topic("ch", "s1") + body)
        assert (as_data.seq, as_data.payload, as_data.ttl, as_data.live) == (2, b"new", 30.0, True)
        _, hello_body = split_inbox(hello, inbox)
        assert hello_body[1] == Kind.HELLO
        assert hello_body[-1:] == b"7"  # the tag of the tune-in it answers
        assert int.from_bytes(hello_body[10:18], "big") == 1  # the last value comes next

    def test_an_expired_last_value_is_never_sent(self) -> None:
        """Past its TTL, the latest message is not handed to anyone."""
        clock = Clock()
        tx = core(clock, keep_last=True)
        tx.open("s1")
        tx.send("s1", b"soon stale", 1.0)
        clock.now += 2.0
        (hello,) = tx.hear(joined("s1"))  # only the HELLO
        assert split_inbox(hello, inbox_topic("ch", LISTENER))[1][1] == Kind.HELLO

    def test_a_hello_for_a_closed_session_says_where_it_ended(self) -> None:
        """Tuning in to a session after it closed: the HELLO carries its last seq, so the
        subscriber's baseline is its end and the END counts nothing sent before it came
        (found by the simulator, seed 778029: 136 gaps counted for 133 missed)."""
        tx = core()
        tx.open("s1")
        for _ in range(49):
            tx.send("s1", b"x", 0.0)
        tx.close("s1")
        (hello,) = tx.hear(joined("s1", LISTENER + b".3"))
        body = split_inbox(hello, inbox_topic("ch", LISTENER))[1]
        assert body[1] == Kind.HELLO
        assert int.from_bytes(body[10:18], "big") == 49
        (never,) = tx.hear(joined("s9", LISTENER + b".4"))
        assert int.from_bytes(split_inbox(never, inbox_topic("ch", LISTENER))[1][10:18], "big") == 0

    def test_waiting_batches_go_before_the_last_value(self) -> None:
        """The last value never overtakes messages sent before it."""
        tx = core(keep_last=True, batch_size=10)
        tx.open("s1")
        tx.send("s1", b"a", 0.0)
        frames = tx.hear(joined("s1"))
        assert len(frames) == 3  # the batch, the HELLO, the last value
        assert decode(frames[0]).kind is Kind.BATCH

    def test_the_tuner_yields_the_last_value_once(self) -> None:
        """Round trip: the core's inbox frame is yielded by a tuner with that inbox, once."""
        tx = core(keep_last=True)
        tx.open("s1")
        tx.send("s1", b"latest", 0.0)
        tuner = Tuner("ch", listener_id=LISTENER)
        tuner.tune_in("s1")
        (marker,) = [s for s in tuner.subscriptions(LISTENER) if s.startswith(b"ch/s1/\x00")]
        hello, frame = tx.hear(b"\x01" + marker)
        got: list[Message] = []
        tuner.take([hello, frame, frame], got.append)
        assert [(m.session, m.seq, m.payload) for m in got] == [("s1", 1, b"latest")]


class TestBytes:
    @pytest.mark.parametrize("live", [False, True])
    @pytest.mark.parametrize("ttl", [0.0, 2.5])
    def test_the_hot_path_writes_what_encode_writes(self, live: bool, ttl: float) -> None:
        """SessionState.frame (the publisher's send) equals wire.encode byte for byte."""
        clock = Clock()
        tx = core(clock)
        tx.open("s1")
        if not live:
            tx.open("s2")
        (frame,) = tx.send("s1", b"payload", ttl)
        topic = session_topic("ch", "s1")
        me = tx.publisher_id
        assert frame == encode(
            topic, Kind.DATA, 1, clock.now, b"payload", ttl, live=live, publisher=me
        )

    @pytest.mark.parametrize("live", [False, True])
    def test_a_batch_frame_is_what_encode_batch_writes(self, live: bool) -> None:
        """Batch builds incrementally the same bytes wire.encode_batch writes at once."""
        clock = Clock()
        tx = core(clock, batch_size=3)
        tx.open("s1")
        if not live:
            tx.open("s2")
        records = []
        for i in range(3):
            clock.now += 0.001
            records.append((clock.now, b"m%d" % i))
            frames = tx.send("s1", b"m%d" % i, 1.0)
        (frame,) = frames
        me = tx.publisher_id
        assert frame == encode_batch(
            session_topic("ch", "s1"), 1, 1.0, records, live=live, publisher=me
        )
        assert decode_records(frame, len(session_topic("ch", "s1")) + HEADER.size) == records

    def test_an_inbox_frame_splits_back_into_its_parts(self) -> None:
        """encode_inbox and split_inbox are inverse."""
        inbox = inbox_topic("ch", LISTENER)
        frame = encode_inbox(inbox, b"s-1/", Kind.DATA, 7, 1.5, 0.0, b"body")
        session, body = split_inbox(frame, inbox)
        assert session == b"s-1/"
        assert decode(session_topic("ch", "s-1") + body) == Frame(
            "ch", "s-1", Kind.DATA, 7, 1.5, 0.0, b"body", False
        )
