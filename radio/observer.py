"""Observer: a plain SUB on a channel's prefix, feeding `Watch`; counted by no publisher."""

from __future__ import annotations

import time
from typing import Unpack

import zmq

from radio.core.names import channel_prefix, validate_name
from radio.core.tuner import OFF_AIR_AFTER_BEACONS
from radio.core.watch import Snapshot, Watch
from radio.owner import SocketOwner
from radio.security import CurveClient, apply_client
from radio.settings import (
    MAX_COUNT,
    SocketOptions,
    check_options,
    message_limit,
    socket_context,
    socket_settings,
    to_ms,
    validate_count,
    validate_endpoint,
)
from radio.sockets import (
    SUBSCRIPTION_HWM,
    attach,
    configure,
    open_socket,
    read_messages,
    setup_error,
)
from radio.subscriber import CLOSE_LINGER_S, OVERSIZE_FACTOR


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
        limit = message_limit(options)
        self.watch.tuner.max_message_size = limit  # as a subscriber: counted, dropped
        settings = socket_settings(
            options,
            linger=CLOSE_LINGER_S,
            max_message_size=None if limit is None else min(limit * OVERSIZE_FACTOR, MAX_COUNT),
        )
        validate_endpoint(endpoint)
        self._socket: zmq.Socket[bytes] = open_socket(socket_context(options), zmq.SUB, endpoint)
        try:
            sock = self._socket
            configure(sock, settings, connecting=not bind)
            sock.setsockopt(zmq.SNDHWM, SUBSCRIPTION_HWM)
            if security is not None:
                apply_client(sock, security)  # before bind/connect
            sock.setsockopt(zmq.SUBSCRIBE, channel_prefix(self.channel))  # no marker: nobody
            self.endpoint = attach(sock, endpoint, bind=bool(bind))
        except BaseException as exc:
            self._socket.close(linger=0)
            if isinstance(exc, zmq.ZMQError):
                raise setup_error(exc, endpoint) from None
            raise

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
