"""A send never waits for another thread's socket call: the outbox keeps order and bounds."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import zmq

from radio import Message, Publisher, Subscriber
from radio.core.wire import Kind, decode
from radio.outbox import Outbox
from tests.helpers import DEADLINE_S, recv_all, tuned


def in_thread(work: Callable[[], object]) -> None:
    """Run *work* in a thread and fail if it has not returned by the deadline.

    A send that waited for the socket's lock, held by this test, would never return.
    """
    done = threading.Event()

    def run() -> None:
        work()
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert done.wait(DEADLINE_S), "a send waited for the socket held by another thread"


@pytest.mark.parametrize("many", [False, True], ids=["send", "send_many"])
def test_sends_leave_their_frames_while_the_socket_is_held_and_all_arrive_in_order(
    many: bool,
) -> None:
    """While another thread holds the socket (the service thread inside a libzmq call that
    a flood of subscriptions makes last tens of milliseconds), sends return at once and
    leave their frames in the outbox; the holder sends them, in order, as it lets go."""
    with tuned("s") as (pub, sub):
        pub._wire.acquire()  # as the service thread does for its pass
        try:
            if many:
                in_thread(lambda: [pub.send_many("s", [b"m%d" % i]) for i in range(1, 101)])
            else:
                in_thread(lambda: [pub.send("s", b"m%d" % i) for i in range(1, 101)])
            assert len(pub._outbox.pending) == 100
            assert sub.recv(timeout=0.1) is None  # nothing left while the socket was held
        finally:
            pub._outbox.let_go()
        got = recv_all(sub, 100)
        assert [m.payload for m in got] == [b"m%d" % i for i in range(1, 101)]
        assert [m.seq for m in got] == list(range(1, 101))
        assert not pub._outbox.pending
        assert sub.stats.gaps == 0


def test_a_send_after_the_holder_lets_go_follows_the_frames_it_left() -> None:
    """Frames left in the outbox go before any frame sent after them, whoever sends."""
    with tuned("s") as (pub, sub):
        with pub._wire:
            in_thread(lambda: pub.send("s", b"first"))
        # The socket is free again: this send finds the frame left behind and sends it first.
        pub.send("s", b"second")
        assert [m.payload for m in recv_all(sub, 2)] == [b"first", b"second"]


def test_frames_beyond_the_high_water_mark_are_dropped_and_counted_as_gaps() -> None:
    """The outbox holds at most hwm data frames: the rest are dropped, as a full socket
    drops them, counted by the publisher and seen by the subscriber as a gap."""
    with tuned("s", pub={"hwm": 10}, sub={"hwm": 1000}) as (pub, sub):
        pub._wire.acquire()
        try:
            in_thread(lambda: [pub.send("s", b"x") for _ in range(50)])
            assert [frame[-1:] for frame in pub._outbox.pending] == [b"x"] * 10
            assert pub._outbox.dropped == 40
        finally:
            pub._outbox.let_go()
        got: list[Message] = []
        pump(sub, got, lambda: bool(got) and got[-1].seq > 50, lambda: pub.send("s", b"x"))
        seqs = [m.seq for m in got]
        assert seqs == sorted(set(seqs))
        assert set(seqs[:-1]) <= set(range(1, 11))  # what the outbox kept, the socket let by
        assert sub.stats.gaps >= 40


def test_control_frames_are_never_dropped_from_the_outbox() -> None:
    """An END left behind while the socket is held is kept however many data frames were
    dropped before it, and the subscriber hears the session end."""
    with tuned("s", pub={"hwm": 5}) as (pub, sub):
        pub._wire.acquire()
        try:
            in_thread(lambda: [pub.send("s", b"x") for _ in range(20)])
            in_thread(lambda: pub.close_session("s"))
            kinds = [decode(frame).kind for frame in pub._outbox.pending]
            assert kinds[:6] == [Kind.DATA] * 5 + [Kind.END]  # five messages, then the END
        finally:
            pub._outbox.let_go()
        pump(sub, [], lambda: not sub.sessions, lambda: None)


def pump(
    sub: Subscriber, got: list[Message], until: Callable[[], bool], poke: Callable[[], object]
) -> None:
    """Receive into *got* until *until* holds, calling *poke* when nothing came; fail at the
    deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not until():
        assert time.monotonic() < deadline, f"not met by the deadline; stats={sub.stats}"
        if (message := sub.recv(timeout=0.05)) is not None:
            got.append(message)
        else:
            poke()


def test_an_interrupt_inside_a_put_lets_the_socket_go() -> None:
    """Whatever *then* raises (Ctrl-C's KeyboardInterrupt among them), the socket's lock
    is let go: nothing is left unable to send. In C when built, so that no signal can
    land between taking the lock and the code that lets it go."""
    with tuned("s") as (pub, sub):

        def interrupted() -> None:
            raise KeyboardInterrupt

        with pub._lock, pytest.raises(KeyboardInterrupt):
            pub._outbox.put([b"not a frame anyone reads"], then=interrupted)
        assert pub._wire.acquire(blocking=False)
        pub._wire.release()
        pub.send("s", b"after")
        assert [m.payload for m in recv_all(sub, 1)] == [b"after"]


def test_frames_a_failed_send_did_not_send_go_back_first_in_order() -> None:
    """If a send raises midway (a closed context, say), the frames not sent go back to the
    front of the outbox, in order, for the next holder of the socket."""
    sent: list[bytes] = []

    def send(frame: bytes, flags: int, copy: bool = True) -> None:
        if frame == b"2" and not sent.count(b"retry"):
            sent.append(b"retry")
            raise zmq.ZMQError(zmq.ETERM)
        sent.append(frame)

    outbox = Outbox(threading.Lock(), threading.Lock(), send, 0)
    outbox.pending.append(b"0")
    with pytest.raises(zmq.ZMQError):
        outbox.emit([b"1", b"2", b"3"])
    assert list(outbox.pending) == [b"2", b"3"]
    outbox.emit([b"4"])
    assert sent == [b"0", b"1", b"retry", b"2", b"3", b"4"]


def test_close_does_not_hang_on_a_socket_lock_left_taken() -> None:
    """A pure build's send interrupted (Ctrl-C) right as it took the socket's lock leaves
    it taken: close still returns, after WIRE_LEFT_S, and closes the socket."""
    pub = Publisher("tcp://127.0.0.1:*", channel="c", linger=0)
    pub.open_session("s")
    assert pub._wire.acquire(timeout=DEADLINE_S)  # and never let go, as the interrupted send
    in_thread(pub.close)
    assert pub._socket.closed
