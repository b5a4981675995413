"""Start and stop the peer brokers (redis-server, nats-server, mosquitto) on loopback."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

START_TIMEOUT_S: Final[float] = 10.0


class ServerMissing(RuntimeError):  # noqa: N818 - reads better at the call site
    """The server's program is not installed (`make bench-deps` installs them)."""


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_listening(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"server not listening on 127.0.0.1:{port} after {START_TIMEOUT_S} s")


def _command(name: str, port: int, workdir: Path) -> list[str]:
    program = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if program is None:
        raise ServerMissing(f"{name} is not installed (run `make bench-deps`)")
    if name == "redis-server":
        return [
            program,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ]
    if name == "nats-server":
        return [program, "-a", "127.0.0.1", "-p", str(port)]
    config = workdir / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    return [program, "-c", str(config)]


@contextmanager
def running(name: str) -> Iterator[tuple[int, int]]:
    """Run server *name* on a free loopback port; yield ``(port, pid)``, stop it after."""
    port = free_port()
    with tempfile.TemporaryDirectory(prefix=f"radio-bench-{name}-") as workdir:
        proc = subprocess.Popen(  # noqa: S603 - a fixed program from the machine's packages
            _command(name, port, Path(workdir)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=workdir,
        )
        try:
            _wait_listening(port, proc)
            yield port, proc.pid
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=START_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def version(name: str) -> str:
    """The server's version line, or 'not installed'."""
    program = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if program is None:
        return "not installed"
    flag = "-h" if name == "mosquitto" else "--version"
    out = subprocess.run(  # noqa: S603
        [program, flag], capture_output=True, text=True, timeout=10, check=False
    )
    text = (out.stdout + out.stderr).strip().splitlines()
    return text[0] if text else "unknown"
