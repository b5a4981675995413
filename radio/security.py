"""CURVE encryption and authentication: key files, ZAP allow-lists, socket settings."""

from __future__ import annotations

import itertools
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from radio.allowlist import ALLOW_ANY, AllowList
from radio.errors import EndpointError, InvalidSettingError, KeyFileError

_domains = itertools.count(1)


def _read_keys(path: str | os.PathLike[str], *, secret: bool) -> tuple[bytes, bytes | None]:
    try:
        public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        raise InvalidSettingError(f"cannot read CURVE certificate {str(path)!r}: {exc}") from None
    if secret and secret_key is None:
        raise InvalidSettingError(
            f"CURVE certificate {str(path)!r} holds no secret key (use the .key_secret file)"
        )
    return public, secret_key


KEY_FILE_MODE: Final[int] = 0o600
"""Key files are readable and writable by their owner only, from their first byte."""

_NEW_FILE: Final[int] = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW


def create_keys(directory: str | os.PathLike[str], name: str) -> tuple[Path, Path]:
    """Create ``NAME.key`` (public) and ``NAME.key_secret`` in *directory*, owner-only.

    Returns (public file, secret file). Hand the public file to the other side.
    Each file is created owner-only from its first byte and never replaces
    anything: an existing file, or a symlink in its place (followed or not), is
    refused with `KeyFileError`, as is a folder that cannot be made or written.
    """
    folder = Path(directory)
    public_key, secret_key = zmq.curve_keypair()
    public, secret = folder / f"{name}.key", folder / f"{name}.key_secret"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path in (public, secret):
            if path.is_symlink() or path.exists():
                raise FileExistsError(17, "exists already; not overwriting it", str(path))
        _write_certificate(secret, public_key, secret_key)  # the secret first: it matters
        _write_certificate(public, public_key, None)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        where = exc.filename or str(folder)
        raise KeyFileError(exc.errno, f"cannot write CURVE keys: {where}: {reason}") from None
    return public, secret


def _write_certificate(path: Path, public_key: bytes, secret_key: bytes | None) -> None:
    """Write a ZeroMQ (czmq) certificate, owner-only, failing if *path* exists at all."""
    kind = "Secret" if secret_key else "Public"
    lines = [
        f"#   ZeroMQ CURVE {kind} Certificate, made by radio-keys",
        "#   Keep the secret one to yourself; hand the public one (.key) to the other side.",
        "",
        "metadata",
        "curve",
        f'    public-key = "{public_key.decode("ascii")}"',
    ]
    if secret_key:
        lines.append(f'    secret-key = "{secret_key.decode("ascii")}"')
    fd = os.open(path, _NEW_FILE, KEY_FILE_MODE)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write("\n".join(lines) + "\n")


@dataclass(frozen=True)
class CurveServer:
    """The publisher's side: its key pair and who may listen.

    ``allow`` is a directory of client public certificates (``*.key``) or
    `ALLOW_ANY` (encrypted, but any client key is accepted).
    """

    public_key: bytes
    secret_key: bytes
    allow: str

    @classmethod
    def from_files(cls, secret_file: str | os.PathLike[str], allow: str) -> CurveServer:
        """Read the server's ``.key_secret`` file; *allow* is a folder or ``"*"``."""
        public, secret = _read_keys(secret_file, secret=True)
        if allow != ALLOW_ANY and not Path(allow).is_dir():
            raise InvalidSettingError(
                f"CURVE allow-list {allow!r} is not a directory of client certificates"
            )
        assert secret is not None
        return cls(public, secret, allow)


@dataclass(frozen=True)
class CurveClient:
    """A subscriber's side: its key pair and the publisher's public key it trusts."""

    public_key: bytes
    secret_key: bytes
    server_key: bytes

    @classmethod
    def from_files(
        cls, secret_file: str | os.PathLike[str], server_public_file: str | os.PathLike[str]
    ) -> CurveClient:
        """Read the client's ``.key_secret`` file and the publisher's ``.key`` file."""
        public, secret = _read_keys(secret_file, secret=True)
        server, _ = _read_keys(server_public_file, secret=False)
        assert secret is not None
        return cls(public, secret, server)


class _Authenticators:
    """One ZAP authenticator thread per ZeroMQ context, shared by its publishers.

    Each publisher gets its own ZAP domain and its own credentials provider: an
    allow-any publisher must not open the door of a publisher with an allow-list
    (pyzmq's ``CURVE_ALLOW_ANY`` would apply to every domain of the authenticator).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[int, tuple[ThreadAuthenticator, set[str]]] = {}

    def register(self, context: zmq.Context[zmq.Socket[bytes]], allow: str) -> str:
        """Start (or reuse) the context's authenticator; return a ZAP domain for *allow*."""
        domain = f"radio-{next(_domains)}"
        provider = AllowList(allow)
        with self._lock:
            entry = self._running.get(id(context))
            if entry is None:
                entry = (_start_authenticator(context), set())
                self._running[id(context)] = entry
            auth, domains = entry
            auth.configure_curve_callback(domain=domain, credentials_provider=provider)
            domains.add(domain)
        return domain

    def release(self, context: zmq.Context[zmq.Socket[bytes]], domain: str) -> None:
        """Forget *domain*; stop the authenticator when no publisher needs it."""
        with self._lock:
            entry = self._running.get(id(context))
            if entry is None:
                return
            auth, domains = entry
            domains.discard(domain)
            auth.credentials_providers.pop(domain, None)
            if not domains:
                del self._running[id(context)]
                auth.stop()


authenticators = _Authenticators()

ZAP_ENDPOINT: Final[str] = "inproc://zeromq.zap.01"
"""Where libzmq looks for a context's ZAP handler (RFC 27)."""

ZAP_START_TIMEOUT_S: Final[float] = 5.0
"""How long starting an authenticator waits for the previous one's endpoint to be freed."""


def _start_authenticator(context: zmq.Context[zmq.Socket[bytes]]) -> ThreadAuthenticator:
    """Start a ZAP authenticator on *context*, waiting until its endpoint is free.

    A stopped authenticator's socket leaves `ZAP_ENDPOINT` only when libzmq's
    reaper gets to it, a moment after close: a publisher closed and created again
    in one process must wait for that, not fail. Raises `EndpointError` when the
    endpoint stays taken (another ZAP handler runs on this context).
    """
    deadline = time.monotonic() + ZAP_START_TIMEOUT_S
    pause = 0.001
    while True:
        auth = ThreadAuthenticator(context)
        try:
            auth.start()
            return auth
        except zmq.ZMQError as exc:
            if auth.zap_socket is not None:
                auth.zap_socket.close(linger=0)
            if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                raise EndpointError(
                    exc.errno, f"cannot start the CURVE authenticator on {ZAP_ENDPOINT}: {exc}"
                ) from None
        time.sleep(pause)  # sync-ok: retry interval while waiting for libzmq's reaper
        pause = min(pause * 2, 0.05)


def apply_server(socket: zmq.Socket[bytes], keys: CurveServer, domain: str) -> None:
    """Make *socket* a CURVE server checked by ZAP *domain* (must come before bind/connect)."""
    socket.setsockopt_string(zmq.ZAP_DOMAIN, domain)
    socket.setsockopt(zmq.CURVE_SERVER, 1)
    socket.setsockopt(zmq.CURVE_PUBLICKEY, keys.public_key)
    socket.setsockopt(zmq.CURVE_SECRETKEY, keys.secret_key)


def apply_client(socket: zmq.Socket[bytes], keys: CurveClient) -> None:
    """Make *socket* a CURVE client that only talks to the pinned server key."""
    socket.setsockopt(zmq.CURVE_SERVERKEY, keys.server_key)
    socket.setsockopt(zmq.CURVE_PUBLICKEY, keys.public_key)
    socket.setsockopt(zmq.CURVE_SECRETKEY, keys.secret_key)
