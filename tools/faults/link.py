"""Simulated cables: a TAP device in each of two namespaces and a forwarder thread between.

Each `Link` opens ``/dev/net/tun`` twice in the root namespace (TUNSETIFF with
IFF_TAP | IFF_NO_PI), moves each device into its host's namespace with
``ip link set DEV netns NS`` (the file descriptors stay valid) and addresses
them 10.77.N.1/24 and 10.77.N.2/24: the two hosts see each other and nothing
else, and no frame leaves the machine. One `Switchboard` thread moves the
Ethernet frames of every link both ways through a `Line` per direction: line 0
carries what the first host sends, line 1 what the second sends.
"""

from __future__ import annotations

import fcntl
import os
import random
import select
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from typing import Final

from .line import Conditions, Line
from .netns import PREFIX, TUN_DEVICE, Namespace, ip

TUNSETIFF: Final[int] = 0x400454CA
IFF_TAP: Final[int] = 0x0002
IFF_NO_PI: Final[int] = 0x1000
MAX_FRAME_BYTES: Final[int] = 65_536
"""More than any frame a TAP device with MTU 1500 hands over."""
READS_PER_WAKEUP: Final[int] = 256
"""Frames read from one device before the others get a turn."""
IDLE_WAKEUP_S: Final[float] = 0.02
"""Longest sleep of the forwarder: how soon it notices a stop."""


def open_tap(name: str) -> int:
    """Create the TAP device *name* (Ethernet frames, no packet info) and return its fd."""
    fd = os.open(TUN_DEVICE, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode("ascii"), IFF_TAP | IFF_NO_PI))
    except OSError as exc:
        os.close(fd)
        raise RuntimeError(f"cannot create TAP device {name!r}: {exc.strerror}") from None
    return fd


@dataclass
class Link:
    """A cable between two hosts: one TAP end in each namespace, a `Line` each way."""

    name: str
    index: int
    ends: tuple[Namespace, Namespace]
    seed: int = 0
    fds: tuple[int, int] = (-1, -1)
    lines: tuple[Line, Line] = field(init=False)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        conditions = Conditions()
        self.lines = (Line(conditions, random.Random(rng.random())), Line(conditions, rng))

    def address(self, side: int) -> str:
        """The IPv4 address of end *side* (0 or 1), without the prefix length."""
        return f"10.77.{self.index}.{side + 1}"

    def device(self, side: int) -> str:
        """The TAP device name of end *side* (at most 15 characters, as Linux wants)."""
        return f"{PREFIX}{os.getpid()}{self.name}{side}"

    def open(self) -> None:
        """Create both devices, move them into their namespaces, address them, bring them up."""
        fds: list[int] = []
        try:
            for side, host in enumerate(self.ends):
                device = self.device(side)
                fds.append(open_tap(device))
                ip("link", "set", device, "netns", host.name)
                ip("addr", "add", f"{self.address(side)}/24", "dev", device, namespace=host.name)
                ip("link", "set", device, "up", namespace=host.name)
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        self.fds = (fds[0], fds[1])

    def close(self) -> None:
        """Close both fds: a TAP device that nobody holds open disappears."""
        for fd in self.fds:
            if fd >= 0:
                os.close(fd)
        self.fds = (-1, -1)

    def set(self, conditions: Conditions) -> None:
        """Apply *conditions* to both directions at once (takes effect on the next frame)."""
        for line in self.lines:
            line.conditions = conditions

    @property
    def conditions(self) -> Conditions:
        """The conditions the direction from end 0 applies now."""
        return self.lines[0].conditions

    def cut(self, cut: bool = True, *, sender: int | None = None) -> None:
        """Cut the cable silently (every frame dropped), or heal it with ``cut=False``.

        With *sender* (0 or 1) only the frames end *sender* sends are dropped: a
        one-way partition, the other direction keeps its conditions.
        """
        for side, line in enumerate(self.lines):
            if sender is None or side == sender:
                line.conditions = replace(line.conditions, cut=cut)


class Switchboard:
    """One thread that forwards the frames of every link, each through its lines."""

    def __init__(self, links: list[Link]) -> None:
        self._links = links
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="faults-switchboard", daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> Switchboard:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            self._forward()
        except BaseException as exc:  # noqa: BLE001 - reported by the harness
            self.error = exc

    def _forward(self) -> None:
        # fd -> (the line its frames enter, the fd that line writes to)
        routes: dict[int, tuple[Line, int]] = {}
        outputs: list[tuple[Line, int]] = []
        for link in self._links:
            a, b = link.fds
            routes[a] = (link.lines[0], b)
            routes[b] = (link.lines[1], a)
            outputs += [(link.lines[0], b), (link.lines[1], a)]
        poller = select.poll()
        for fd in routes:
            poller.register(fd, select.POLLIN)
        clock = time.monotonic
        while not self._stop.is_set():
            now = clock()
            due = [when for line, _ in outputs if (when := line.next_due()) is not None]
            wait = min([IDLE_WAKEUP_S, *(when - now for when in due)])
            ready = poller.poll(max(0.0, wait) * 1000.0)
            now = clock()
            for fd, _ in ready:
                line, _out = routes[fd]
                for _ in range(READS_PER_WAKEUP):
                    try:
                        frame = os.read(fd, MAX_FRAME_BYTES)
                    except BlockingIOError:
                        break
                    line.push(frame, now)
            now = clock()
            for line, out in outputs:
                for frame in line.due(now):
                    try:
                        os.write(out, frame)
                    except (BlockingIOError, OSError):
                        line.counts.dropped += 1  # the device is down or full: lost on the wire


@contextmanager
def cables(specs: list[tuple[str, Namespace, Namespace]], seed: int = 0) -> Iterator[list[Link]]:
    """Lay one `Link` per (name, host, host) and forward their frames until exit."""
    with ExitStack() as stack:
        links: list[Link] = []
        for index, (name, left, right) in enumerate(specs, start=1):
            link = Link(name, index, (left, right), seed=seed + index)
            stack.callback(link.close)
            link.open()
            links.append(link)
        with Switchboard(links) as board:
            yield links
        if board.error is not None:
            raise RuntimeError(f"the forwarder failed: {board.error!r}") from board.error
