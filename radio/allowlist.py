"""The CURVE allow-list: client keys read from a folder, reloaded when it changes, never fatal."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Final

import zmq.auth

from radio.logs import get_logger
from radio.ratelimit import RateLimitedLog

log = get_logger()

ALLOW_ANY: Final[str] = "*"
"""`CurveServer.allow` value that encrypts but lets any client key in."""

RELOAD_CHECK_S: Final[float] = 1.0
"""Longest time between two looks at the folder for changes (only when an unknown key
knocks): a flood of strangers costs at most one folder scan per second."""

KEY_SUFFIX: Final[str] = ".key"
"""Client public certificates in the folder end with this (czmq's convention)."""

Z85_KEY_LENGTH: Final[int] = 40
"""Characters of a CURVE public key in Z85 text (32 bytes)."""

_Signature = tuple[tuple[str, int, int], ...]


class AllowList:
    """Answers "may this client key listen?" for one publisher's ZAP domain.

    The folder's ``*.key`` files are read at start and again when the folder
    changes, and only when a key not yet allowed knocks: at once when the folder's
    own modification time moved (a file added, removed or renamed: one ``stat``
    per knock), else when a file's size or modification time changed, looked at
    most once per `RELOAD_CHECK_S`. A stranger never costs a re-read. A file
    that cannot be read or parsed (half-copied, a typo, gone between listing and
    reading) is skipped with a rate-limited warning naming it; the others keep
    working. When the folder itself cannot be listed, the keys read last stay
    allowed (a warning says so) until it can.
    `callback` never raises: an exception would end the authenticator thread
    and with it every later handshake.
    """

    def __init__(self, allow: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.allow = allow
        self._clock = clock
        self._keys: frozenset[bytes] = frozenset()
        self._signature: _Signature | None = None
        self._next_check = 0.0
        self._mtime = -1
        self._log = RateLimitedLog(log.bind(allow=allow))
        self.reloads = 0
        if allow != ALLOW_ANY:
            self.refresh(force=True)

    @property
    def keys(self) -> frozenset[bytes]:
        """The allowed client public keys (Z85), as read last."""
        return self._keys

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether *key* (Z85) may connect: pyzmq's credentials-provider hook."""
        try:
            if self.allow == ALLOW_ANY or key in self._keys:
                return True
            # A file added, removed or renamed changes the folder's own mtime: one
            # stat, then a re-read at once. (libzmq never retries a connection that
            # ZAP refused, so a key added a moment ago must work at its first knock.)
            self.refresh(force=self._folder_mtime() != self._mtime)
            return key in self._keys
        except Exception:  # the authenticator thread must never die
            log.exception("allow_list_failed", allow=self.allow)
            return False

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the keys if the folder changed; return whether they were reloaded.

        The folder is looked at most once per `RELOAD_CHECK_S`, unless *force*.
        """
        now = self._clock()
        if not force and now < self._next_check:
            return False
        self._next_check = now + RELOAD_CHECK_S
        self._mtime = self._folder_mtime()
        signature = self._scan()
        if signature is None or signature == self._signature:
            return False
        self._signature = signature
        keys: set[bytes] = set()
        for name, _, _ in signature:
            key = self._read(os.path.join(self.allow, name))
            if key is not None:
                keys.add(key)
        self._keys = frozenset(keys)
        self.reloads += 1
        log.info("allow_list_loaded", allow=self.allow, keys=len(keys))
        return True

    def _folder_mtime(self) -> int:
        """The folder's modification time in ns (-1 if it cannot be read)."""
        try:
            return os.stat(self.allow).st_mtime_ns
        except OSError:
            return -1

    def _scan(self) -> _Signature | None:
        """Name, size and modification time of each ``*.key`` entry; None if unlistable."""
        try:
            with os.scandir(self.allow) as entries:
                found = []
                for entry in entries:
                    if not entry.name.endswith(KEY_SUFFIX):
                        continue
                    try:
                        info = entry.stat()
                    except OSError:
                        info = None  # a dangling link: listed, read (and skipped) below
                    found.append(
                        (entry.name, info.st_size if info else -1, info.st_mtime_ns if info else -1)
                    )
        except OSError as exc:
            self._log.warning("allow_list_unreadable", reason=str(exc), kept=len(self._keys))
            return None
        return tuple(sorted(found))

    def _read(self, path: str) -> bytes | None:
        """The public key in certificate *path*, or None (warned) if it has none."""
        try:
            public, _ = zmq.auth.load_certificate(path)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            self._log.warning("key_file_skipped", file=path, reason=str(exc) or type(exc).__name__)
            return None
        if len(public) != Z85_KEY_LENGTH:
            reason = f"the public key is {len(public)} characters, not {Z85_KEY_LENGTH}"
            self._log.warning("key_file_skipped", file=path, reason=reason)
            return None
        return public
