"""radio: radio-style broadcasting over ZeroMQ that never delivers a stale message."""

from __future__ import annotations

# First: it decides, before any core is imported, whether the compiled cores are used.
import radio.compiled  # noqa: F401
from radio.core.batch import BATCH_DELAY_S
from radio.core.names import new_session_id, validate_name
from radio.core.presence import ListenerEvent
from radio.core.transmitter import BEACON_INTERVAL_S
from radio.core.tuner import OFF_AIR_AFTER_BEACONS
from radio.core.watch import PublisherRow, SessionRow, Snapshot, snapshot_dict
from radio.core.wire import MAX_BEACON_INTERVAL_S, MIN_BEACON_INTERVAL_S
from radio.errors import (
    ClosedError,
    DeskError,
    EndpointError,
    InvalidNameError,
    InvalidSettingError,
    KeyFileError,
    MalformedMessageError,
    MessageTooLargeError,
    MetricsUnavailableError,
    RadioError,
    SessionClosedError,
    SessionError,
    UnknownSessionError,
)
from radio.logs import LOGGER_NAME
from radio.message import Loss, Message, Stats
from radio.metrics import (
    MetricsServer,
    RadioCollector,
    serve_metrics,
    validate_metrics_address,
)
from radio.observer import Observer
from radio.publisher import Publisher
from radio.relay import REPORT_INTERVAL_S, Relay
from radio.security import CurveClient, CurveServer, create_keys
from radio.settings import (
    DEFAULT_HWM,
    DEFAULT_LINGER_S,
    HEARTBEAT_INTERVAL_S,
    HEARTBEAT_TIMEOUT_S,
    MAX_COUNT,
    MAX_MESSAGE_BYTES,
    MAX_SOCKET_SECONDS,
    RECONNECT_INTERVAL_S,
    JoinSettings,
    PublisherSettings,
    SocketOptions,
    SubscriberSettings,
    validate_count,
    validate_endpoint,
    validate_seconds,
)
from radio.subscriber import Subscriber

__version__ = "0.1.0"

__all__ = [
    "BATCH_DELAY_S",
    "BEACON_INTERVAL_S",
    "DEFAULT_HWM",
    "DEFAULT_LINGER_S",
    "HEARTBEAT_INTERVAL_S",
    "HEARTBEAT_TIMEOUT_S",
    "LOGGER_NAME",
    "MAX_BEACON_INTERVAL_S",
    "MAX_COUNT",
    "MAX_MESSAGE_BYTES",
    "MAX_SOCKET_SECONDS",
    "MIN_BEACON_INTERVAL_S",
    "OFF_AIR_AFTER_BEACONS",
    "RECONNECT_INTERVAL_S",
    "REPORT_INTERVAL_S",
    "ClosedError",
    "CurveClient",
    "CurveServer",
    "DeskError",
    "EndpointError",
    "InvalidNameError",
    "InvalidSettingError",
    "JoinSettings",
    "KeyFileError",
    "ListenerEvent",
    "Loss",
    "MalformedMessageError",
    "Message",
    "MessageTooLargeError",
    "MetricsServer",
    "MetricsUnavailableError",
    "Observer",
    "Publisher",
    "PublisherRow",
    "PublisherSettings",
    "RadioCollector",
    "RadioError",
    "Relay",
    "SessionClosedError",
    "SessionError",
    "SessionRow",
    "Snapshot",
    "SocketOptions",
    "Stats",
    "Subscriber",
    "SubscriberSettings",
    "UnknownSessionError",
    "__version__",
    "create_keys",
    "new_session_id",
    "serve_metrics",
    "snapshot_dict",
    "validate_count",
    "validate_endpoint",
    "validate_metrics_address",
    "validate_name",
    "validate_seconds",
]
