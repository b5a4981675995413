"""What a publisher counted, as one snapshot (`Tally`), and listeners by channel and session."""

from __future__ import annotations

from typing import NamedTuple

from radio.core.names import CONTROL_MARK, TOPIC_DELIMITER, is_channel_topic
from radio.core.transmitter import Transmitter


class Tally(NamedTuple):
    """A publisher's counters at one moment, read from its core under its lock.

    ``listeners``: the listeners of each session of the channel (every open one,
    0 included, and any other one somebody tuned in to); ``channel_listeners``:
    subscribers connected to the channel, in any session or none. The ``_total``
    ones count since the publisher started: sessions opened and closed (desk
    clients' too), messages sent (numbered by `send`: each session's last seq,
    summed), desk requests answered with a session (``desk_joins``), refused
    (``desk_refusals``) and desk clients evicted for a newcomer, presence joins
    refused at a cap. The driver adds ``dropped`` (data frames dropped while the
    socket was busy, `radio.outbox`) and, under CURVE, ``curve``: the handshakes
    its allow-list admitted and refused.
    """

    channel: str
    listeners: dict[str, int]
    channel_listeners: int
    open_sessions: int
    sessions_opened: int
    sessions_closed: int
    messages_sent: int
    desk_clients: int
    desk_joins: int
    desk_refusals: int
    desk_evictions: int
    presence_refusals: int
    dropped: int = 0
    curve: tuple[int, int] | None = None


def tally(core: Transmitter, dropped: int = 0, curve: tuple[int, int] | None = None) -> Tally:
    """What *core* counted so far (call it under the lock that guards the core)."""
    listeners = dict.fromkeys(core.sessions, 0)
    channel_listeners = 0
    for (channel, session), count in session_listeners(core.presence.topics()).items():
        if channel != core.channel:
            continue  # another channel's subscriber: counted by presence, not ours
        if session is None:
            channel_listeners = count
        else:
            listeners[session] = count
    desk = core.desk
    return Tally(
        channel=core.channel,
        listeners=listeners,
        channel_listeners=channel_listeners,
        open_sessions=len(core.sessions),
        sessions_opened=core.opened,
        sessions_closed=core.closed,
        messages_sent=core.sent_closed + sum(state.seq for state in core.sessions.values()),
        desk_clients=len(desk),
        desk_joins=desk.joined,
        desk_refusals=desk.refused,
        desk_evictions=desk.evicted,
        presence_refusals=core.presence.refused,
        dropped=dropped,
        curve=curve,
    )


def session_listeners(topics: dict[bytes, int]) -> dict[tuple[str, str | None], int]:
    """Listeners by (channel, session) of presence's *topics* (`Presence.topics`).

    A channel's control topic is its session None: the subscribers connected to
    it. Other topics (inboxes, prefixes) are left out; bytes that are not ASCII
    are replaced.
    """
    control = TOPIC_DELIMITER + CONTROL_MARK + TOPIC_DELIMITER
    found: dict[tuple[str, str | None], int] = {}
    for topic, count in topics.items():
        if not is_channel_topic(topic):
            continue
        cut = topic.index(TOPIC_DELIMITER)
        channel = topic[:cut].decode("ascii", "replace")
        if topic[cut:] == control:
            found[(channel, None)] = count
        else:
            found[(channel, topic[cut + 1 : -1].decode("ascii", "replace"))] = count
    return found
