"""Network namespaces as simulated hosts: create, address, run commands in, always remove."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Final

TUN_DEVICE: Final[str] = "/dev/net/tun"
PREFIX: Final[str] = "rf"
"""Every namespace and device this harness makes starts with this (then the pid)."""


def why_unavailable() -> str | None:
    """Why this machine cannot run the harness (None when it can)."""
    if os.geteuid() != 0:
        return "the fault harness needs root (network namespaces and TAP devices)"
    if not os.path.exists(TUN_DEVICE):
        return f"the fault harness needs {TUN_DEVICE} (TAP devices)"
    if shutil.which("ip") is None:
        return "the fault harness needs the `ip` command (iproute2)"
    try:
        with open(TUN_DEVICE, "rb", buffering=0):
            pass
    except OSError as exc:
        return f"cannot open {TUN_DEVICE}: {exc.strerror}"
    return None


def ip(*args: str, namespace: str | None = None) -> None:
    """Run one `ip` command (in *namespace* if given); raise with its stderr on failure."""
    argv = ["ip", *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {done.stderr.strip()}")


class Namespace:
    """One simulated host: a network namespace with `lo` up, removed on exit."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Namespace({self.name!r})"

    def __enter__(self) -> Namespace:
        ip("netns", "add", self.name)
        try:
            ip("link", "set", "lo", "up", namespace=self.name)
        except BaseException:
            self.remove()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.remove()

    def remove(self) -> None:
        """Delete the namespace (its processes must be gone; devices in it go with it)."""
        subprocess.run(  # noqa: S603 - fixed argv
            ["ip", "netns", "delete", self.name],  # noqa: S607
            capture_output=True,
            check=False,
        )

    def argv(self, command: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
        """The argv that runs *command* inside this namespace, with extra *env* settings.

        `ip netns exec` execs the command itself, so the child's pid is the command's.
        """
        settings = [f"{key}={value}" for key, value in sorted((env or {}).items())]
        return [
            "ip",
            "netns",
            "exec",
            self.name,
            *(["env", *settings] if settings else []),
            *command,
        ]


def unique_name(host: str) -> str:
    """A namespace name no other run of the harness uses at the same time."""
    return f"{PREFIX}{os.getpid()}{host}"


@contextmanager
def namespaces(hosts: Sequence[str]) -> Iterator[dict[str, Namespace]]:
    """Create one namespace per host name; all are removed on exit, also on failure or Ctrl-C."""
    with ExitStack() as stack:
        yield {host: stack.enter_context(Namespace(unique_name(host))) for host in hosts}


def leftovers() -> list[str]:
    """Namespaces of this process still present (for checks after a run)."""
    done = subprocess.run(
        ["ip", "netns", "list"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    )
    mine = f"{PREFIX}{os.getpid()}"
    return [line.split()[0] for line in done.stdout.splitlines() if line.startswith(mine)]
