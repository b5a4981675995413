"""The CURVE allow-list: bad files skipped, changes picked up, strangers cost no re-read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import zmq

from radio.security import RELOAD_CHECK_S, AllowList, create_keys
from radio.testing import capture_logs


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


def _a_directory(path: Path) -> None:
    path.mkdir()


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "gone-for-ever")


@pytest.mark.parametrize("make_bad", [_malformed, _half_copied, _a_directory, _dangling_link])
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
