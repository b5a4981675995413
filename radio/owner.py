"""The base of every class that owns sockets or a server: context manager, repr, ZAP release."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import zmq

from radio.errors import ClosedError
from radio.security import authenticators


class Closable:
    """A context manager that closes its object: repr, closed check, ``with``.

    A subclass sets ``_closed`` once closed and implements `close` and `_describe`
    (the middle of its repr).
    """

    _closed: bool = False

    def close(self) -> None:
        """Close it (idempotent)."""
        raise NotImplementedError

    def _describe(self) -> str:
        """What the repr shows between the class name and the closed mark: the endpoints."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<{type(self).__name__} {self._describe()}{state}>"

    def _check_open(self) -> None:
        """Raise `ClosedError` naming this object if it was closed."""
        if self._closed:
            raise ClosedError(f"{self!r} is closed")


class SocketOwner(Closable):
    """What `Publisher`, `Subscriber` and `Relay` share about owning sockets.

    A subclass sets ``_closed`` once closed, ``_context`` and ``_zap_domain`` when
    it registers a CURVE allow-list, implements `close` and `_describe` (the middle
    of its repr).
    """

    _context: zmq.Context[zmq.Socket[bytes]] | None = None
    _zap_domain: str | None = None

    def _release_zap(self) -> None:
        """Give back the authenticator domain registered for a CURVE server (once)."""
        if self._zap_domain is not None and self._context is not None:
            authenticators.release(self._context, self._zap_domain)
        self._zap_domain = None
