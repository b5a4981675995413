"""Observer: a plain SUB on a channel's prefix, feeding `Watch`; counted by no publisher."""

from __future__ import annotations

import time
from typing import Unpack

import zmq

from radio.core.names import channel_prefix, validate_name
from radio.core.tuner import OFF_AIR_AFTER_BEACONS
from radio.core.watch import Snapshot, Watch
from radio.owner import SocketOwner
from radio.security import CurveClient
from radio.settings import SocketOptions, check_options, to_ms, validate_count, validate_endpoint
from radio.sockets import attach, open_sub, read_messages, setting_up, sub_settings


class Observer(SocketOwner):
    """Watches a channel without taking part: what ``radio-top`` shows.

    Its SUB socket subscribes to the channel's prefix (``channel/``) with a plain
    subscription and no presence marker, so no publisher counts it as a listener
    and none answers it (no HELLO, no last value, no beacon at once): it hears the
    beacons, the AUDIENCE frames and every session's frames as they pass. Nothing
    runs in the background: `poll` reads what waits and hands it to the `Watch`
    model; `snapshot` says what was heard. Same endpoint, CURVE and socket options
    as a `radio.Subscriber`.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        channel: str = "radio",
        bind: bool = False,
        off_air_after: int = OFF_AIR_AFTER_BEACONS,
        security: CurveClient | None = None,
        **options: Unpack[SocketOptions],
    ) -> None:
        check_options(options, "Observer")
        self.channel = validate_name(channel, "channel")
        off_air_after = validate_count(off_air_after, "off-air beacons") or 1
        self.watch = Watch(self.channel, off_air_after=off_air_after)
        limit, settings = sub_settings(options)
        self.watch.tuner.max_message_size = limit  # as a subscriber: counted, dropped
        validate_endpoint(endpoint)
        sock = open_sub(options, endpoint, settings, bind=bind, security=security)
        self._socket: zmq.Socket[bytes] = sock
        with setting_up(sock, endpoint):
            sock.setsockopt(zmq.SUBSCRIBE, channel_prefix(self.channel))  # no marker: nobody
            self.endpoint = attach(sock, endpoint, bind=bool(bind))

    def _describe(self) -> str:
        return f"{self.endpoint} channel={self.channel!r}"

    def poll(self, timeout: float) -> int:
        """Read what arrives within *timeout* seconds (at least one wait); return frames read."""
        self._check_open()
        deadline = time.monotonic() + timeout
        read = 0
        while True:
            frames = read_messages(self._socket)
            if frames:
                self.watch.take(frames)
                read += len(frames)
            left = deadline - time.monotonic()
            if left <= 0 or (not frames and not self._socket.poll(max(1, to_ms(left)))):
                return read

    def snapshot(self) -> Snapshot:
        """What was heard so far (see `radio.core.watch.Snapshot`)."""
        return self.watch.snapshot()

    def close(self) -> None:
        """Close the socket (idempotent)."""
        if not self._closed:
            self._closed = True
            self._socket.close(linger=0)
