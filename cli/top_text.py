"""radio-top's screen as lines of text: one snapshot, one width; the curses view draws these."""

from __future__ import annotations

import time
from typing import Final

from radio import PublisherRow, SessionRow, Snapshot

MIN_NAME_WIDTH: Final[int] = 8
MAX_NAME_WIDTH: Final[int] = 40
_NUMBERS: Final[str] = "{state:<6} {listeners:>9} {rate:>9} {seq:>12} {heard:>10}"
_NUMBERS_WIDTH: Final[int] = len(_NUMBERS.format(state="", listeners="", rate="", seq="", heard=""))
_INDENT: Final[str] = "  "


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rate(value: float) -> str:
    return f"{value:.1f}" if value < 1000 else f"{value:.0f}"


def _fit(text: str, width: int) -> str:
    """*text* cut to *width* characters (a cut name ends with '~')."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "~"


def _session_line(row: SessionRow, name_width: int) -> str:
    numbers = _NUMBERS.format(
        state=row.state,
        listeners=_count(row.listeners),
        rate=_rate(row.rate),
        seq=row.last_seq,
        heard=row.heard,
    )
    return f"{_INDENT}{_fit(row.name, name_width):<{name_width}} {numbers}"


def _publisher_lines(row: PublisherRow, name_width: int) -> list[str]:
    air = "signing off" if row.signing_off else ("on air" if row.on_air else "OFF AIR")
    head = f"publisher {row.publisher}  {air}"
    if row.beacon_interval:
        head += f"  beacon {row.beacon_interval:g}s"
    head += f"  live {row.live or '-'}"
    if row.audience:
        counts = (
            f"{_INDENT}listeners: channel {_count(row.channel_listeners)}"
            f"  desk {_count(row.desk_listeners)} in {_count(row.desk_sessions)} sessions"
        )
        if row.unlisted:
            counts += f"  ({row.unlisted} more sessions unlisted)"
    else:
        counts = f"{_INDENT}listeners: unknown (the publisher sends no audience)"
    columns = _NUMBERS.format(
        state="STATE", listeners="LISTENERS", rate="RATE/s", seq="LAST SEQ", heard="HEARD"
    )
    lines = [head, counts, f"{_INDENT}{'SESSION':<{name_width}} {columns}"]
    lines += [_session_line(session, name_width) for session in row.sessions]
    if not row.sessions:
        lines.append(f"{_INDENT}(no session heard yet)")
    return lines


def render(
    snapshot: Snapshot, endpoint: str, width: int = 10_000, *, live: bool = False
) -> list[str]:
    """The lines of radio-top's view of *snapshot*, none wider than *width*.

    *live*: the full-screen view (it says how to quit); else the ``--once`` text.
    """
    width = max(width, 20)
    name_width = max(MIN_NAME_WIDTH, min(MAX_NAME_WIDTH, width - len(_INDENT) - 1 - _NUMBERS_WIDTH))
    clock = time.strftime("%H:%M:%S", time.localtime(snapshot.wall))
    title = f"radio-top  channel {snapshot.channel}  at {endpoint}  {clock}"
    lines = [title + ("   q: quit" if live else "")]
    if not snapshot.publishers:
        lines.append("no publisher heard yet (waiting for a beacon)")
    for row in snapshot.publishers:
        lines.append("")
        lines += _publisher_lines(row, name_width)
    losses = "  ".join(f"{name} {value}" for name, value in snapshot.losses.items())
    lines += [
        "",
        f"viewer (an observer, in no listener count): received {snapshot.received}"
        f"  lost {snapshot.lost}",
        f"{_INDENT}{losses}",
    ]
    return [_fit(line, width) for line in lines]
