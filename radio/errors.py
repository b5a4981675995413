"""The exceptions radio raises: one base class, precise subclasses."""

from __future__ import annotations


class RadioError(Exception):
    """Base class of every error radio raises on purpose."""


class InvalidNameError(RadioError, ValueError):
    """A channel or session name breaks the naming rules."""


class InvalidSettingError(RadioError, ValueError):
    """A setting (endpoint, TTL, high-water mark, timeout, ...) has a bad value."""


class EndpointError(RadioError, OSError):
    """A socket could not bind or connect to its endpoint."""


class MalformedMessageError(RadioError, ValueError):
    """A frame is not a valid radio message (the only error `radio.core.wire.decode` raises)."""


class SessionError(RadioError):
    """A session cannot be used the way it was asked to."""


class SessionClosedError(SessionError):
    """The session was closed: nothing more may be sent on it, and it cannot reopen."""


class UnknownSessionError(SessionError, KeyError):
    """The publisher has no open session of that name."""

    def __str__(self) -> str:
        # KeyError would quote the message; show it as written.
        return str(self.args[0]) if self.args else ""


class ClosedError(RadioError):
    """The publisher or subscriber was closed and cannot be used any more."""


class MessageTooLargeError(RadioError, ValueError):
    """A message is larger than the configured maximum message size."""


class KeyFileError(RadioError, OSError):
    """A CURVE key file or its folder cannot be written (or would overwrite one)."""


class DeskError(RadioError):
    """The session desk refused a request, or did not answer in time."""


class MetricsUnavailableError(RadioError, ImportError):
    """Metrics need ``prometheus_client``: ``pip install 'radio-zmq[metrics]'``."""
