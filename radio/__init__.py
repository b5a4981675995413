"""radio: radio-style broadcasting over ZeroMQ that never delivers a stale message."""

from __future__ import annotations

from radio.errors import (
    ClosedError,
    DeskError,
    EndpointError,
    InvalidNameError,
    InvalidSettingError,
    MalformedMessageError,
    MessageTooLargeError,
    RadioError,
    SessionClosedError,
    SessionError,
    UnknownSessionError,
)
from radio.message import Message, Stats
from radio.names import new_session_id, validate_name
from radio.presence import ListenerEvent
from radio.publisher import Publisher
from radio.relay import Relay
from radio.security import CurveClient, CurveServer, create_keys
from radio.subscriber import Subscriber

__version__ = "0.1.0"

__all__ = [
    "ClosedError",
    "CurveClient",
    "CurveServer",
    "DeskError",
    "EndpointError",
    "InvalidNameError",
    "InvalidSettingError",
    "ListenerEvent",
    "MalformedMessageError",
    "Message",
    "MessageTooLargeError",
    "Publisher",
    "RadioError",
    "Relay",
    "SessionClosedError",
    "SessionError",
    "Stats",
    "Subscriber",
    "UnknownSessionError",
    "__version__",
    "create_keys",
    "new_session_id",
    "validate_name",
]
