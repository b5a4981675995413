"""The subscriber's queue of decoded messages, without sockets: order, fence, TTL."""

from __future__ import annotations

from collections import deque

import pytest

from radio.core.ready import CHUNK, ReadyQueue
from radio.core.tuner import Tuner
from radio.message import Message

NOW = 1000.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def message(session: str, seq: int, ttl: float | None = None) -> Message:
    return Message("c", session, seq, NOW, ttl, b"%d" % seq)


def setup(*sessions: str, conflate: bool = False) -> tuple[Tuner, ReadyQueue, Clock]:
    """A tuner hearing *sessions* and its queue; the stats count as if all were heard."""
    tuner = Tuner("c")
    for session in sessions:
        tuner.tune_in(session)
    clock = Clock()
    tuner.stats.received = 1000  # what the queue retracts was counted received first
    return tuner, ReadyQueue(tuner, conflate=conflate, monotonic=clock), clock


def test_taken_messages_come_first_and_in_order() -> None:
    """pop and pop_many hand out what was taken, then the rest, in order."""
    _, queue, _ = setup("s1")
    queue.queue.extend(message("s1", seq) for seq in range(1, 6))
    queue.take_chunk()
    assert list(queue.queue) == []
    queue.queue.extend(message("s1", seq) for seq in range(6, 9))
    assert queue.pop() == message("s1", 1)
    assert [m.seq for m in queue.pop_many(5)] == [2, 3, 4, 5, 6]
    assert [m.seq for m in queue.pop_many(5)] == [7, 8]
    assert queue.pop() is None
    assert not queue


def test_take_chunk_swaps_the_queue_in_and_nothing_moves_when_conflating() -> None:
    """recv takes the whole queue when nothing is taken (a swap: no message moves, the
    old deque stays empty for a reader still holding it), CHUNK at a time behind taken
    ones; in conflate mode the newest waits in the queue."""
    _, queue, _ = setup("s1")
    queue.queue.extend(message("s1", seq) for seq in range(1, CHUNK + 11))
    old_taken, old_queue = queue.taken, queue.queue
    queue.take_chunk()
    assert queue.taken is old_queue
    assert not old_taken
    assert queue.queue is not old_taken
    assert (len(queue.taken), len(queue.queue), len(queue)) == (CHUNK + 10, 0, CHUNK + 10)
    queue.queue.extend(message("s1", seq) for seq in range(CHUNK + 11, 2 * CHUNK + 21))
    queue.take_chunk()  # taken not empty: up to CHUNK more move behind it, in order
    assert (len(queue.taken), len(queue.queue)) == (2 * CHUNK + 10, 10)
    assert [m.seq for m in queue.pop_many(3 * CHUNK)] == list(range(1, 2 * CHUNK + 21))
    _, conflating, _ = setup("s1", conflate=True)
    conflating.queue.extend(message("s1", seq) for seq in range(1, 4))
    conflating.take_chunk()
    assert (list(conflating.taken), [m.seq for m in conflating.queue]) == ([], [3])


def test_expired_messages_are_counted_and_never_handed_out() -> None:
    """A message older than its TTL when handed out is dropped and counted expired."""
    tuner, queue, clock = setup("s1")
    queue.queue.extend([message("s1", 1, ttl=1.0), message("s1", 2), message("s1", 3, ttl=5.0)])
    clock.now = NOW + 2.0
    assert queue.expired(message("s1", 1, ttl=1.0))
    assert not queue.expired(message("s1", 2))
    assert [m.seq for m in queue.pop_many(10)] == [2, 3]
    assert tuner.stats.expired == 1
    queue.queue.append(message("s1", 4, ttl=1.0))
    assert queue.pop() is None
    assert tuner.stats.expired == 2


def test_a_fence_drops_what_is_no_longer_heard_and_keeps_the_order() -> None:
    """fence raises the generation, puts taken messages back in front, drops the
    messages of sessions tuned out (counted fenced) and keeps the others in order."""
    tuner, queue, _ = setup("s1", "s2")
    queue.queue.extend(message(s, seq) for seq in range(1, 4) for s in ("s1", "s2"))
    queue.take_chunk()
    queue.queue.extend([message("s1", 4), message("s2", 4)])
    taken_before = queue.taken
    tuner.tune_out("s2")
    queue.fence()
    assert queue.generation == 1
    assert queue.taken is not taken_before  # a reader still holding the old one finds it empty
    assert not taken_before
    assert [(m.session, m.seq) for m in queue.queue] == [("s1", seq) for seq in range(1, 5)]
    assert tuner.stats.fenced == 4


def test_still_heard_checks_a_message_taken_before_a_retune() -> None:
    """A message popped without the lock goes through still_heard when a retune or
    its TTL may have come in between: fenced, expired, or handed out."""
    tuner, queue, clock = setup("s1", "s2")
    tuner.tune_out("s2")
    assert not queue.still_heard(message("s2", 1))
    clock.now = NOW + 2.0
    assert not queue.still_heard(message("s1", 1, ttl=1.0))
    assert queue.still_heard(message("s1", 2))
    assert (tuner.stats.fenced, tuner.stats.expired) == (1, 1)


@pytest.mark.parametrize("count", [3, 4, 10])
def test_pop_many_drops_and_counts_the_expired_whether_it_takes_the_queue_whole_or_not(
    count: int,
) -> None:
    """A queue no longer than *count* is taken whole (4, 10), else popped one by one (3):
    either way the expired ones are left out, counted, and the rest keep their order."""
    tuner, queue, clock = setup("s1")
    for seq, ttl in ((1, None), (2, 0.5), (3, 5.0), (4, None)):
        queue.put(message("s1", seq, ttl=ttl))
    clock.now = NOW + 1.0  # #2 is 1 s old with a TTL of 0.5 s
    taken = [m.seq for m in queue.pop_many(count)] + [m.seq for m in queue.pop_many(count)]
    assert taken == [1, 3, 4]
    assert tuner.stats.expired == 1
    assert not queue


def test_given_back_messages_go_in_front_unless_fenced() -> None:
    """What an iterator took and did not yield goes back in front, in order."""
    tuner, queue, _ = setup("s1", "s2")
    queue.queue.append(message("s1", 9))
    tuner.tune_out("s2")
    queue.give_back([message("s1", 1), message("s2", 1), message("s1", 2)])
    assert [m.seq for m in queue.pop_many(10)] == [1, 2, 9]
    assert tuner.stats.fenced == 1


def test_clear_says_how_many_were_never_handed_out() -> None:
    """Closing counts taken and queued messages as unread."""
    _, queue, _ = setup("s1")
    queue.queue.extend(message("s1", seq) for seq in range(1, 8))
    queue.take_chunk()
    queue.queue.extend(message("s1", seq) for seq in range(8, 11))
    assert queue.clear() == 10
    assert len(queue) == 0


def test_a_reader_quicker_to_the_last_taken_message_loses_nothing() -> None:
    """recv pops taken messages without the lock: when one empties ``taken`` between
    pop_many's check and its pop, pop_many goes on with the queue (nothing lost)."""
    _, queue, _ = setup("s1")
    stolen: list[Message] = []

    class Raced(deque[Message]):
        def popleft(self) -> Message:
            if len(self) == 1:
                stolen.append(super().popleft())  # the other reader was quicker
            return super().popleft()

    queue.taken = Raced([message("s1", 1), message("s1", 2)])
    queue.queue.extend([message("s1", 3), message("s1", 4)])
    assert [m.seq for m in queue.pop_many(10)] == [1, 3, 4]
    assert [m.seq for m in stolen] == [2]
    queue.taken = Raced([message("s1", 5)])
    assert queue.pop() is None
    assert [m.seq for m in stolen] == [2, 5]


def test_given_back_in_conflate_mode_a_newer_message_wins() -> None:
    """Conflating: a message given back while a newer one waits is counted conflated."""
    tuner, queue, _ = setup("s1", conflate=True)
    queue.give_back([message("s1", 1)])
    assert [m.seq for m in queue.queue] == [1]
    queue.queue.append(message("s1", 2))  # the newest replaces it, as decoding does
    queue.give_back([message("s1", 1)])
    assert [m.seq for m in queue.queue] == [2]
    assert tuner.stats.conflated == 1


def test_clear_fences_readers_that_still_hold_the_taken_deque() -> None:
    """Closing raises the generation and swaps ``taken``: a reader still holding the
    old deque finds it empty and the generation moved (its careful path)."""
    _, queue, _ = setup("s1")
    queue.queue.extend(message("s1", seq) for seq in range(1, 4))
    queue.take_chunk()
    held, generation = queue.taken, queue.generation
    assert queue.clear() == 3
    assert not held
    assert queue.generation == generation + 1


def test_conflation_counts_each_message_replaced() -> None:
    """In conflate mode put keeps the newest message and counts the one it replaces."""
    tuner, queue, _ = setup("s1", conflate=True)
    for seq in (1, 2, 3):
        queue.put(message("s1", seq))
    assert tuner.stats.conflated == 2
    assert queue.pop() == message("s1", 3)


def test_a_rebase_moves_the_queued_messages_and_judges_them_the_same() -> None:
    """The tuner's wall base moves (a publisher's wall-clock step): every message held
    moves with it, taken or not, so each is expired exactly when it was before."""
    tuner, queue, clock = setup("s1")
    queue.queue.extend(message("s1", seq, ttl=1.0) for seq in (1, 2))
    queue.take_chunk()
    queue.queue.append(message("s1", 3, ttl=1.0))
    generation = queue.generation
    tuner.air.base = 3600.0  # what the tuner does before it calls on_rebase
    assert tuner.air.on_rebase is not None
    tuner.air.on_rebase(3600.0)
    assert queue.generation == generation + 1
    assert queue.conversion == 3600.0
    assert [m.sent_at for m in queue.queue] == [NOW + 3600.0] * 3
    clock.now = NOW + 0.9
    assert [m.seq for m in queue.pop_many(1)] == [1]  # 0.9 s old: not expired
    clock.now = NOW + 1.1
    assert queue.pop_many(5) == []
    assert tuner.stats.expired == 2


def test_a_message_taken_before_a_rebase_is_judged_with_the_shift() -> None:
    """A lock-free reader that popped a message before the rebase says at which
    generation: the queue judges it (and gives it back) with the shifts since."""
    tuner, queue, clock = setup("s1")
    old = message("s1", 1, ttl=1.0)
    generation = queue.generation
    tuner.air.base = -5.0
    assert tuner.air.on_rebase is not None
    tuner.air.on_rebase(-5.0)
    clock.now = NOW + 0.5
    assert queue.still_heard(old, generation)  # 0.5 s old, whatever the wall base
    queue.give_back([old], generation)
    assert [m.sent_at for m in queue.taken] == [NOW - 5.0]
    clock.now = NOW + 1.5
    assert not queue.expired(old)  # judged as if taken now: 5 s too young
    assert not queue.still_heard(old, generation)  # with the shift: 1.5 s old
    assert queue.pop() is None
    assert tuner.stats.expired == 2
