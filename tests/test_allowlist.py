"""The CURVE allow-list: bad files skipped unblocked, changes and revocations picked up."""

from __future__ import annotations

import os
import socket
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
import zmq

from radio.security import MAX_KEY_FILE_BYTES, RELOAD_CHECK_S, AllowList, create_keys
from radio.testing import capture_logs
from tests.helpers import DEADLINE_S, release_fifo

T = TypeVar("T")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def public_key(folder: Path, name: str) -> bytes:
    """Make a key pair in *folder*/made and copy its public file into *folder* as NAME.key."""
    public, _ = create_keys(folder / "made", name)
    (folder / f"{name}.key").write_bytes(public.read_bytes())
    return zmq.auth.load_certificate(public)[0]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    return allowed


def _malformed(path: Path) -> None:
    path.write_text("this is not a certificate\n")


def _half_copied(path: Path) -> None:
    path.write_text(
        'metadata\ncurve\n    public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"\n'[:60]
    )


def _no_equals_sign(path: Path) -> None:
    path.write_text("metadata\ncurve\n    public-key\n")


def _a_directory(path: Path) -> None:
    path.mkdir()


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "gone-for-ever")


@pytest.mark.parametrize(
    "make_bad", [_malformed, _half_copied, _no_equals_sign, _a_directory, _dangling_link]
)
def test_a_bad_key_file_is_skipped_and_the_others_work(folder: Path, make_bad: object) -> None:
    """One unusable *.key file costs only itself, with a warning naming it."""
    good = public_key(folder, "good")
    make_bad(folder / "bad.key")  # type: ignore[operator]
    with capture_logs() as logs:
        allow = AllowList(str(folder))
    assert allow.keys == {good}
    assert allow.callback("d", good)
    assert not allow.callback("d", b"x" * 40)
    skipped = [e for e in logs if e["event"] == "key_file_skipped"]
    assert [e["log_level"] for e in skipped] == ["warning"]
    assert skipped[0]["file"].endswith("bad.key")


def test_strangers_cost_no_reread(folder: Path) -> None:
    """A flood of unknown keys looks at the folder at most once per RELOAD_CHECK_S and
    re-reads it only when it changed."""
    clock = Clock()
    good = public_key(folder, "good")
    allow = AllowList(str(folder), clock=clock)
    assert allow.reloads == 1
    for i in range(1000):
        assert not allow.callback("d", b"%040d" % i)
        clock.now += RELOAD_CHECK_S / 100
    assert allow.reloads == 1  # ten looks, nothing changed: nothing re-read
    assert allow.callback("d", good)


def test_a_new_key_file_is_allowed_at_its_first_knock(folder: Path) -> None:
    """A key file added while the publisher runs changes the folder: read at once, even
    right after a look (libzmq never retries a refused connection)."""
    clock = Clock()
    allow = AllowList(str(folder), clock=clock)
    allow.callback("d", b"x" * 40)  # a stranger knocks: the next timed look is a second away
    late = public_key(folder, "late")
    assert allow.callback("d", late)
    assert allow.reloads == 2


def test_a_fixed_file_is_picked_up(folder: Path) -> None:
    """A half-copied file that is then completed lets its key in."""
    clock = Clock()
    made, _ = create_keys(folder.parent / "made", "slow")
    (folder / "slow.key").write_bytes(made.read_bytes()[:50])
    allow = AllowList(str(folder), clock=clock)
    key = zmq.auth.load_certificate(made)[0]
    assert not allow.callback("d", key)
    (folder / "slow.key").write_bytes(made.read_bytes())
    os.utime(folder / "slow.key", ns=(1, 1))  # a different mtime even on a coarse clock
    clock.now += RELOAD_CHECK_S
    assert allow.callback("d", key)


def test_a_vanished_folder_keeps_the_keys_read_last(folder: Path) -> None:
    """While the folder cannot be listed the last keys stay; when it is back it is read."""
    clock = Clock()
    good = public_key(folder, "good")
    allow = AllowList(str(folder), clock=clock)
    hidden = folder.with_name("hidden")
    folder.rename(hidden)
    clock.now += RELOAD_CHECK_S
    assert not allow.callback("d", b"x" * 40)
    assert allow.callback("d", good)
    hidden.rename(folder)
    newer = public_key(folder, "newer")
    clock.now += RELOAD_CHECK_S
    assert allow.callback("d", newer)


def test_the_callback_never_raises(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever goes wrong inside, the answer is "no" and the authenticator lives on."""
    allow = AllowList(str(folder))

    def explode() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(allow, "_scan", explode)
    monkeypatch.setattr(allow, "_next_check", 0.0)
    assert allow.callback("d", b"x" * 40) is False


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link_to_a_fifo(path: Path) -> None:
    os.mkfifo(path.with_name("pipe"))
    path.symlink_to(path.with_name("pipe"))


def _unix_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))  # the socket file stays when the socket closes


def _link_to_a_device(path: Path) -> None:
    path.symlink_to("/dev/null")


SPECIAL_FILES = [_fifo, _link_to_a_fifo, _unix_socket, _link_to_a_device]

RETURN_WITHIN_S = 2.0
"""How long a look at a folder with a special file in it may take (it takes microseconds)."""


def returns_in_time(call: Callable[[], T], folder: Path) -> T:
    """*call*'s result, failing the test if it does not return within `RETURN_WITHIN_S`.

    A call stuck opening a FIFO in *folder* is then let go, so that the test ends.
    """
    result: list[T] = []
    worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
    worker.start()
    worker.join(RETURN_WITHIN_S)
    if not result:
        for fifo in (folder / "special.key", folder / "pipe"):
            release_fifo(fifo)
        worker.join(DEADLINE_S)
        pytest.fail(f"blocked for more than {RETURN_WITHIN_S} s on a special file")
    return result[0]


@pytest.mark.parametrize("make_special", SPECIAL_FILES)
def test_a_special_file_is_skipped_without_blocking(folder: Path, make_special: object) -> None:
    """A FIFO, a socket or a device named *.key (or a link to one) is never read: the
    folder is read at once, the file skipped with a warning saying why."""
    good = public_key(folder, "good")
    make_special(folder / "special.key")  # type: ignore[operator]
    with capture_logs() as logs:
        allow = returns_in_time(lambda: AllowList(str(folder)), folder)
    assert allow.keys == {good}
    skipped = [e for e in logs if e["event"] == "key_file_skipped"]
    assert [e["file"].rsplit("/", 1)[-1] for e in skipped] == ["special.key"]
    assert "not a regular file" in skipped[0]["reason"]


@pytest.mark.parametrize("make_special", [_fifo, _link_to_a_fifo])
def test_a_special_file_added_later_never_blocks_a_knock(
    folder: Path, make_special: object
) -> None:
    """A FIFO named *.key (or a link to one) appears, then a stranger knocks (the folder
    is read again): the answer comes at once, and allowed keys keep their answer."""
    good = public_key(folder, "good")
    allow = AllowList(str(folder))
    make_special(folder / "special.key")  # type: ignore[operator]
    assert returns_in_time(lambda: allow.callback("d", b"x" * 40), folder) is False
    assert allow.callback("d", good)
    assert allow.reloads == 2


def test_a_removed_key_is_refused_at_its_next_knock(folder: Path) -> None:
    """Removing a key file moves the folder's mtime: that key's next handshake looks and
    is refused at once, with no stranger knocking and no clock advancing."""
    clock = Clock()
    good, kept = public_key(folder, "good"), public_key(folder, "kept")
    allow = AllowList(str(folder), clock=clock)
    assert allow.callback("d", good)
    (folder / "good.key").unlink()
    assert not allow.callback("d", good)
    assert allow.callback("d", kept)


def test_a_key_rewritten_in_place_is_refused_within_the_check_interval(folder: Path) -> None:
    """A file rewritten in place (the folder's mtime does not move) is looked at again on
    an allowed key's handshake too, RELOAD_CHECK_S after the last look at the latest."""
    clock = Clock()
    good = public_key(folder, "good")
    other, _ = create_keys(folder.parent / "made", "other")
    allow = AllowList(str(folder), clock=clock)
    assert allow.callback("d", good)
    folder_mtime = folder.stat().st_mtime_ns
    (folder / "good.key").write_bytes(other.read_bytes())
    os.utime(folder / "good.key", ns=(1, 1))  # a different mtime even on a coarse clock
    assert folder.stat().st_mtime_ns == folder_mtime
    clock.now += RELOAD_CHECK_S
    assert not allow.callback("d", good)
    assert allow.callback("d", zmq.auth.load_certificate(other)[0])


def test_an_allowed_key_costs_one_stat_between_looks(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Allowed keys' handshakes look at the folder's mtime only, and list it at most once
    per RELOAD_CHECK_S: a busy publisher does not re-list its folder per connection."""
    clock = Clock()
    good = public_key(folder, "good")
    allow = AllowList(str(folder), clock=clock)
    scans = 0
    scan = allow._scan

    def counted() -> object:
        nonlocal scans
        scans += 1
        return scan()

    monkeypatch.setattr(allow, "_scan", counted)
    for _ in range(640):  # ten seconds in steps a float holds exactly
        assert allow.callback("d", good)
        clock.now += RELOAD_CHECK_S / 64
    assert scans == 9  # at 1 s, 2 s, ... 9 s after the first read
    assert allow.reloads == 1


def test_a_file_swapped_for_a_fifo_after_the_look_is_not_read(folder: Path) -> None:
    """Between the folder's listing (a regular file) and the read, a FIFO takes its place:
    the open does not block and the FIFO is recognised once open, never read."""
    allow = AllowList(str(folder))
    os.mkfifo(folder / "special.key")
    with capture_logs() as logs:
        key = returns_in_time(
            lambda: allow._read(str(folder / "special.key"), stat.S_IFREG), folder
        )
    assert key is None
    assert [e["reason"] for e in logs] == ["not a regular file (a FIFO)"]


def test_an_oversized_key_file_is_skipped_unread(folder: Path) -> None:
    """A *.key file larger than MAX_KEY_FILE_BYTES (a log, an image) is skipped, saying so."""
    good = public_key(folder, "good")
    (folder / "huge.key").write_bytes(b"#" * (MAX_KEY_FILE_BYTES + 1))
    with capture_logs() as logs:
        allow = AllowList(str(folder))
    assert allow.keys == {good}
    assert [e["reason"] for e in logs if e["event"] == "key_file_skipped"] == [
        f"larger than {MAX_KEY_FILE_BYTES} bytes"
    ]


def test_a_relay_file_allows_its_key_and_declares_it_a_relay(folder: Path) -> None:
    """``NAME.relay`` is read like ``NAME.key`` and also lands in ``relays``; renaming
    it back to ``.key`` takes the declaration away at the next knock of a stranger."""
    plain = public_key(folder, "alice")
    relay = public_key(folder, "hop")
    (folder / "hop.key").rename(folder / "hop.relay")
    allow = AllowList(str(folder))
    assert allow.keys == {plain, relay}
    assert allow.relays == {relay}
    assert allow.callback("radio-1", relay)
    (folder / "hop.relay").rename(folder / "hop.key")
    assert not allow.callback("radio-1", b"x" * 40)  # a stranger: the folder is read again
    assert allow.keys == {plain, relay}
    assert allow.relays == frozenset()
