"""What a publisher's AUDIENCE frames say: the listeners it counts, bounded and in order."""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from radio.core.wire import MAX_AUDIENCE_SESSIONS, Audience


def count_audience(
    channel: int,
    public: Iterable[tuple[str, int, int]],
    live: str | None,
    private: Iterable[int],
) -> Audience:
    """The `Audience` of a publisher, from its counts now.

    *channel*: the listeners of its control topic; *public*: every open session
    that may be live, oldest first, as ``(name, listeners, last seq)``; *live*: the
    live one (None: none); *private*: the listeners of each desk client's session
    open, which are counted and never named. The live session is listed first,
    then the others by most listeners, the newest first among equals, up to
    `MAX_AUDIENCE_SESSIONS`; the rest are counted in ``unlisted``. Costs
    O(n log k) for n sessions and k listed.
    """
    entries = list(public)
    listed: list[tuple[str, int, int]] = []
    rest: list[tuple[int, int, tuple[str, int, int]]] = []
    for age, entry in enumerate(entries):
        if entry[0] == live:
            listed.append(entry)
        else:
            rest.append((entry[1], age, entry))  # most listeners, then the newest
    room = MAX_AUDIENCE_SESSIONS - len(listed)
    listed += [item[2] for item in heapq.nlargest(room, rest)]
    private_sessions = 0
    private_listeners = 0
    for listeners in private:
        private_sessions += 1
        private_listeners += listeners
    return Audience(
        channel,
        tuple(listed),
        len(entries) - len(listed),
        private_sessions,
        private_listeners,
    )
