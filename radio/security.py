"""CURVE encryption and authentication: key files, ZAP allow-lists, socket settings."""

from __future__ import annotations

import itertools
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from radio.errors import EndpointError, InvalidSettingError, KeyFileError
from radio.logs import RateLimitedLog, get_logger

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
        self._allow_lists: dict[str, AllowList] = {}

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
            self._allow_lists[domain] = provider
        return domain

    def allow_list(self, domain: str) -> AllowList | None:
        """The allow-list that ZAP *domain* checks keys with (None once released)."""
        return self._allow_lists.get(domain)

    def release(self, context: zmq.Context[zmq.Socket[bytes]], domain: str) -> None:
        """Forget *domain*; stop the authenticator when no publisher needs it."""
        with self._lock:
            entry = self._running.get(id(context))
            if entry is None:
                return
            auth, domains = entry
            domains.discard(domain)
            self._allow_lists.pop(domain, None)
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


log = get_logger()

ALLOW_ANY: Final[str] = "*"
"""`CurveServer.allow` value that encrypts but lets any client key in."""

RELOAD_CHECK_S: Final[float] = 1.0
"""Longest time a key file changed in place goes unseen: handshakes (any key's) look at
the folder's files at most once per this interval, so a flood costs one scan a second."""

KEY_SUFFIX: Final[str] = ".key"
"""Client public certificates in the folder end with this (czmq's convention)."""

RELAY_SUFFIX: Final[str] = ".relay"
"""A client certificate named so declares a relay: its key is allowed, and presence
holds it to the total cap only, not to one key's share (`AllowList.relays`)."""

Z85_KEY_LENGTH: Final[int] = 40
"""Characters of a CURVE public key in Z85 text (32 bytes)."""

MAX_KEY_FILE_BYTES: Final[int] = 65536
"""Largest allow-list file read (a public certificate is about 200 bytes)."""

_READ_FLAGS: Final[int] = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY

_FILE_TYPES: Final = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}

_Signature = tuple[tuple[str, int, int, int, int, int], ...]
"""Per ``*.key`` entry: name, file type, size, mtime, ctime (ns), inode; 0s if unknown."""


def _not_regular(mode: int) -> str:
    kind = _FILE_TYPES.get(stat.S_IFMT(mode), f"file type {stat.S_IFMT(mode):#o}")
    return f"not a regular file ({kind})"


def _read_key_file(path: str) -> bytes:
    """The bytes of the regular file *path* (a link to one is followed), without blocking.

    It is opened non-blocking and checked with ``fstat`` once open, so a FIFO, a
    socket or a device put in its place after a look is never read (a FIFO with no
    writer would block forever). Raises `OSError`, or `ValueError` saying why the
    file is not one to read (not regular, larger than `MAX_KEY_FILE_BYTES`).
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(_not_regular(info.st_mode))
        chunks, size = [], 0
        while size <= MAX_KEY_FILE_BYTES and (chunk := os.read(fd, MAX_KEY_FILE_BYTES + 1)):
            chunks.append(chunk)
            size += len(chunk)
    finally:
        os.close(fd)
    if size > MAX_KEY_FILE_BYTES:
        raise ValueError(f"larger than {MAX_KEY_FILE_BYTES} bytes")
    return b"".join(chunks)


def _parse_public_key(certificate: bytes) -> bytes:
    """The public key (Z85) in a ZeroMQ certificate's text; `ValueError` if it has none.

    The layout (czmq's, as ``zmq.auth.load_certificate`` reads it; the first
    ``public-key`` line counts)::

        #   comment lines start with '#'
        curve
            public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
            secret-key = "..."          (only in .key_secret files)
    """
    for raw in certificate.splitlines():
        line = raw.strip()
        if line.startswith(b"public-key"):
            return line.partition(b"=")[2].strip(b" \t'\"")
    raise ValueError("no public key found")


class AllowList:
    """Answers "may this client key listen?" for one publisher's ZAP domain.

    The folder's ``*.key`` files (and ``*.relay`` files: declared relays, see
    `relays`) are read at start and again when the folder changes, checked at
    each handshake, an allowed key's too: a file added, removed or renamed moves
    the folder's own modification time (one ``stat`` per handshake) and is read
    at once; a file changed in place (its size, times or inode) is seen at the
    next look at the files, at most `RELOAD_CHECK_S` after the last. So a
    removed key is refused at its next connection, and a key rewritten in place
    within `RELOAD_CHECK_S`. A stranger never costs a re-read. Only regular
    files (or links to them) are read, opened non-blocking: a FIFO, socket,
    device or directory named ``*.key`` is skipped. A file that cannot be read
    or parsed (half-copied, a typo, gone between listing and reading) is
    skipped with a rate-limited warning naming it; the others keep working.
    When the folder itself cannot be listed, the keys read last stay allowed (a
    warning says so) until it can.
    `callback` never raises: an exception would end the authenticator thread
    and with it every later handshake.
    """

    def __init__(self, allow: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.allow = allow
        self._clock = clock
        self._keys: frozenset[bytes] = frozenset()
        self._relays: frozenset[bytes] = frozenset()
        self._signature: _Signature | None = None
        self._next_check = 0.0
        self._mtime = -1
        self._log = RateLimitedLog(log.bind(allow=allow))
        self.reloads = 0
        self.admitted = 0  # CURVE handshakes whose key was allowed (`callback`)
        self.refused = 0  # and whose key was refused
        if allow != ALLOW_ANY:
            self.refresh(force=True)

    @property
    def keys(self) -> frozenset[bytes]:
        """The allowed client public keys (Z85), as read last."""
        return self._keys

    @property
    def relays(self) -> frozenset[bytes]:
        """The allowed keys declared relays (``*.relay`` files), as read last."""
        return self._relays

    def callback(self, domain: str, key: bytes) -> bool:
        """Whether *key* (Z85) may connect: pyzmq's credentials-provider hook."""
        allowed = False
        try:
            if self.allow == ALLOW_ANY:
                allowed = True
            else:
                # Every handshake looks, an allowed key's too: a key removed must be refused
                # at its next connection, not when a stranger happens to knock. A file added,
                # removed or renamed changes the folder's own mtime: one stat, then a re-read
                # at once (libzmq never retries a connection that ZAP refused, so a key added
                # a moment ago must work at its first knock). Else the timed look.
                self.refresh(force=self._folder_mtime() != self._mtime)
                allowed = key in self._keys
        except Exception:  # the authenticator thread must never die
            log.exception("allow_list_failed", allow=self.allow)
        # Written by the authenticator's thread alone; read by anyone (metrics).
        if allowed:
            self.admitted += 1
        else:
            self.refused += 1
        return allowed

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the keys if the folder changed; return whether they were reloaded.

        The folder is looked at most once per `RELOAD_CHECK_S`, unless *force*.
        """
        now = self._clock()
        if not force and now < self._next_check:
            return False
        self._next_check = now + RELOAD_CHECK_S
        self._mtime = self._folder_mtime()  # before the scan: a change during it moves it
        signature = self._scan()
        if signature is None or signature == self._signature:
            return False
        keys: set[bytes] = set()
        relays: set[bytes] = set()
        for name, mode, *_ in signature:
            key = self._read(os.path.join(self.allow, name), mode)
            if key is not None:
                keys.add(key)
                if name.endswith(RELAY_SUFFIX):
                    relays.add(key)
        self._keys, self._relays, self._signature = frozenset(keys), frozenset(relays), signature
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
        """Type, size, times and inode of each ``*.key`` entry; None if unlistable."""
        try:
            with os.scandir(self.allow) as entries:
                found = []
                for entry in entries:
                    if not entry.name.endswith((KEY_SUFFIX, RELAY_SUFFIX)):
                        continue
                    try:
                        info = entry.stat()  # follows a link; never opens anything
                        mode = stat.S_IFMT(info.st_mode)
                        times = info.st_mtime_ns, info.st_ctime_ns
                        found.append((entry.name, mode, info.st_size, *times, info.st_ino))
                    except OSError:  # a dangling link: listed, read (and skipped) below
                        found.append((entry.name, 0, 0, 0, 0, 0))
        except OSError as exc:
            self._log.warning("allow_list_unreadable", reason=str(exc), kept=len(self._keys))
            return None
        return tuple(sorted(found))

    def _read(self, path: str, mode: int) -> bytes | None:
        """The public key in certificate *path*, or None (warned) if it has none.

        *mode* is the file type the scan saw (0 if unknown): only a regular file is opened.
        """
        try:
            if mode and not stat.S_ISREG(mode):
                raise ValueError(_not_regular(mode))
            public = _parse_public_key(_read_key_file(path))
        except (OSError, ValueError) as exc:
            self._log.warning("key_file_skipped", file=path, reason=str(exc) or type(exc).__name__)
            return None
        if len(public) != Z85_KEY_LENGTH:
            reason = f"the public key is {len(public)} characters, not {Z85_KEY_LENGTH}"
            self._log.warning("key_file_skipped", file=path, reason=reason)
            return None
        return public


def handshakes(allow: AllowList | None) -> tuple[int, int] | None:
    """The CURVE handshakes *allow* admitted and refused so far (None: no allow-list)."""
    return None if allow is None else (allow.admitted, allow.refused)


def user_id(frame: zmq.Frame) -> bytes:
    """The authenticated key (ZAP ``User-Id``) a received frame carries, or b"" if none."""
    try:
        return str(frame.get("User-Id")).encode("ascii", "replace")
    except zmq.ZMQError:  # no such property: not authenticated
        return b""
