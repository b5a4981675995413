"""radio-top's text (cli/top_text.py): one snapshot, any width, unknown counts never shown as 0."""

from __future__ import annotations

from cli.top_text import render
from radio import PublisherRow, SessionRow, Snapshot

LOSSES = {"gaps": 1, "expired": 0, "fenced": 0}


def snapshot(audience: bool) -> Snapshot:
    listeners = 2 if audience else None
    sessions = (
        SessionRow("news", "live", 41, 12.5, 40, listeners),
        SessionRow("a-very-long-session-name-that-goes-on-and-on-and-on", "open", 3, 0.0, 3, 0),
        SessionRow("old", "ended", 9, 0.0, 9, 0 if audience else None),
    )
    row = PublisherRow(
        "00112233aabbccdd", True, False, 1.0, 0.2, "news", audience,
        3 if audience else None, 0 if audience else None, 0 if audience else None, 0, sessions,
    )  # fmt: skip
    return Snapshot("ch", 1.8e9, (row,), LOSSES, 1, 0, 52)


def test_every_session_with_its_state_listeners_rate_and_seq() -> None:
    lines = render(snapshot(True), "tcp://127.0.0.1:5556")
    text = "\n".join(lines)
    assert lines[0].startswith("radio-top  channel ch  at tcp://127.0.0.1:5556")
    assert "listeners: channel 3  desk 0 in 0 sessions" in text
    news = next(line for line in lines if line.strip().startswith("news"))
    assert news.split() == ["news", "live", "2", "12.5", "41", "40"]
    assert "received 52  lost 1" in text
    assert "gaps 1" in text


def test_unknown_counts_are_a_dash_and_said_so() -> None:
    lines = render(snapshot(False), "e")
    news = next(line for line in lines if line.strip().startswith("news"))
    assert news.split()[2] == "-"
    assert any("listeners: unknown" in line for line in lines)


def test_no_line_is_wider_than_the_screen() -> None:
    for width in (20, 37, 60, 80, 200):
        lines = render(snapshot(True), "tcp://127.0.0.1:5556", width, live=True)
        assert all(len(line) <= width for line in lines), width
    assert render(snapshot(True), "e", 200, live=True)[0].endswith("q: quit")


def test_nothing_heard_says_so() -> None:
    empty = Snapshot("ch", 1.8e9, (), LOSSES, 0, 0, 0)
    assert "no publisher heard yet" in "\n".join(render(empty, "e"))
