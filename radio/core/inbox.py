"""A subscriber's inbox: the HELLO and the last value a publisher sends to it alone."""

from __future__ import annotations

from radio.core.dial import NO_BASELINE, Dial, Heard
from radio.core.ledger import Ledger
from radio.core.wire import HEADER, Kind, split_inbox, unpack_header
from radio.errors import MalformedMessageError


def read_inbox(
    frame: bytes, inbox: bytes, prefix: bytes, dial: Dial, ledger: Ledger
) -> tuple[Heard, bytes] | None:
    """Act on one *frame* of our *inbox*; return a last value to take as ``(heard, frame)``.

    Layout: the inbox topic, the session's name and ``/``, then an ordinary
    header (and payload). The HELLO says the publisher saw our tune-in: what
    comes after it was sent after, so a re-tuned session stops awaiting. A
    HELLO's seq is the session's last before the tune-in, the baseline when
    nothing was heard yet; its payload is the tag of the tune-in it answers; it
    speaks for the instance that sent it (`Ledger.welcomed`). A last value (a
    DATA frame, returned on its session's topic) comes right after its HELLO, so
    it is taken only as the session's next message (or its first, when nothing
    set a baseline), of the instance heard, and never when it was heard before a
    re-tune: never twice, and a stray one claims no gap. Any other kind in an
    inbox is malformed. *prefix* is the channel's topic prefix.
    """
    try:
        session, body = split_inbox(frame, inbox)
        heard = dial.heard.get(prefix + session)
        topic = heard.topic if heard is not None else b"x/x/"
        kind, _, instance, seq, sent_at, _ = unpack_header(topic + body, len(topic))
        if kind is not Kind.HELLO and kind is not Kind.DATA:
            raise MalformedMessageError(f"{kind.name} frame in an inbox")
    except MalformedMessageError as exc:
        ledger.malformed(frame, exc)
        return None
    if heard is None:
        if kind is not Kind.HELLO:  # a last value of a session tuned out of meanwhile
            ledger.fence_other(session.decode("ascii", "replace"), seq)
        return None
    if kind is Kind.HELLO:
        if body[HEADER.size :] != heard.tag:
            return None  # the HELLO of an earlier tune-in, read late
        dial.refuted(heard, instance, seq)
        if not ledger.welcomed(heard, instance, seq):
            return None  # of another instance, or of the one that ended the session
        if seq or heard.instance:
            heard.awaiting = False
        else:  # it sent nothing on the session: its own frames come after the fence, and
            heard.hello_from = instance  # another instance's (two publishers) may not
            return None  # its baseline of 0 is for its own frames (`Ledger.hears_from`)
        if heard.last_seq == NO_BASELINE:  # from here on, every message is ours to hear
            heard.last_seq, heard.last_sent = seq, sent_at
        return None
    left, left_of = dial.left.get(heard.session, (0, b""))  # seqs of that instance's
    if (
        heard.last_for(instance) not in (NO_BASELINE, seq - 1)
        or (seq <= left and left_of in (b"", instance))
        or heard.instance not in (b"", instance)
    ):
        return None  # heard already (now or before a re-tune), or out of place: not a last value
    return heard, topic + body
