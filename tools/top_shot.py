"""radio-top's screenshot for docs/operations.md: a real channel, radio-top in tmux, its pane.

``python -m tools.top_shot`` (``make top-shot``) starts a publisher with two
sessions (and one ended) and a desk, subscribers (one behind a relay), radio-top in a detached
tmux session of 100x24, waits until the screen shows every listener count, and
writes the pane: ``docs/top/screen.ansi`` (``tmux capture-pane -p -e``: with its
escape sequences, for ``cat`` in a terminal) and ``docs/top/screen.txt`` (the
text), which it also puts between the markers of docs/operations.md.
"""

from __future__ import annotations

import argparse
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Final

from radio import Publisher, Relay, Subscriber
from tools import ROOT, child_env

OUT: Final[Path] = ROOT / "docs" / "top"
PAGE: Final[Path] = ROOT / "docs" / "operations.md"
BEGIN: Final[str] = "<!-- top-shot: begin (python -m tools.top_shot writes this block) -->"
END: Final[str] = "<!-- top-shot: end -->"
SIZE: Final[tuple[str, str]] = ("100", "24")
DEADLINE_S: Final[float] = 30.0
WANTED: Final[tuple[str, ...]] = (
    r"^\s+news\s+live\s+3\s+[1-9]",  # three listeners, one of them behind the relay
    r"^\s+sport\s+open\s+1\s+[1-9]",
    r"desk 1 in 1 sessions",
    r"^\s+weather\s+ended\s+0\s",
)


def _tmux(server: str, *args: str) -> str:
    command = ["tmux", "-S", server, "-f", "/dev/null", *args]  # tmux from PATH, as a user runs it
    done = subprocess.run(  # noqa: S603 - tmux, with arguments of this module's own
        command,
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    )
    return done.stdout


def _feed(publisher: Publisher, stop: threading.Event) -> None:
    """About 50 messages a second on news, 10 on sport, until *stop*."""
    tick = 0
    while not stop.wait(0.02):
        tick += 1
        publisher.send("news", b"headline %d" % tick)
        if tick % 5 == 0:
            publisher.send("sport", b"score %d" % tick)


def shoot(out: Path = OUT, page: Path | None = PAGE) -> str:
    """Run the scene, capture the pane, write the files; return the text."""
    if shutil.which("tmux") is None:
        sys.exit("top_shot: tmux is not installed (apt-get install tmux)")
    stop = threading.Event()
    with ExitStack() as stack:
        server = str(Path(stack.enter_context(tempfile.TemporaryDirectory())) / "tmux.sock")
        pub = stack.enter_context(
            Publisher("tcp://127.0.0.1:*", channel="radio", desk="tcp://127.0.0.1:*")
        )
        relay = stack.enter_context(Relay(pub.endpoint, "tcp://127.0.0.1:*"))
        pub.open_session("weather")  # over already: beacons name it among the ended
        pub.send("weather", b"sunny")
        pub.close_session("weather")
        pub.open_session("sport")
        pub.open_session("news")
        for session, endpoint in (
            ("news", pub.endpoint),
            ("news", pub.endpoint),
            ("news", relay.backend),
            ("sport", pub.endpoint),
        ):
            stack.enter_context(Subscriber(endpoint, channel="radio")).tune_in(session)
        assert pub.desk is not None
        stack.enter_context(Subscriber.join(pub.desk, "kiosk-7"))
        feeder = threading.Thread(target=_feed, args=(pub, stop), daemon=True)
        feeder.start()
        stack.callback(feeder.join)
        stack.callback(stop.set)
        top = [sys.executable, "-c", "from cli.top import main; main()", "-e", pub.endpoint]
        env = f"PYTHONPATH={shlex.quote(child_env()['PYTHONPATH'])}"
        command = f"cd {shlex.quote(str(ROOT))}; env {env} {shlex.join([*top, '-c', 'radio'])}"
        _tmux(server, "new-session", "-d", "-s", "top", "-x", SIZE[0], "-y", SIZE[1], command)
        stack.callback(_tmux, server, "kill-server")
        deadline = time.monotonic() + DEADLINE_S
        while True:
            text = _tmux(server, "capture-pane", "-p", "-t", "top")
            if all(re.search(wanted, text, re.M) for wanted in WANTED):
                break
            if time.monotonic() > deadline:
                sys.exit(f"top_shot: the screen never showed every count:\n{text}")
            time.sleep(0.1)  # sync-ok: polling the screen until it shows what is wanted
        ansi = _tmux(server, "capture-pane", "-p", "-e", "-t", "top")
        text = _tmux(server, "capture-pane", "-p", "-t", "top")
    text = text.rstrip() + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "screen.ansi").write_text(ansi)
    (out / "screen.txt").write_text(text)
    if page is not None:
        document = page.read_text()
        start, end = document.index(BEGIN) + len(BEGIN), document.index(END)
        page.write_text(f"{document[:start]}\n```text\n{text}```\n{document[end:]}")
    return text


def main() -> None:
    """Entry point: ``python -m tools.top_shot``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=OUT, help="where the pane files go")
    args = parser.parse_args()
    sys.stdout.write(shoot(args.out))


if __name__ == "__main__":
    main()
