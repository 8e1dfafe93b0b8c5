"""snakepit_bridge: the Python side of Snakepit. Write tools, the host runs them in a worker pool."""

from .adapter import Adapter, tool
from .context import Context
from .errors import Cancelled, EncodeError, HostToolError, InvalidRef, PermissionDenied, TooManyRefs
from .protocol import VERSION as PROTOCOL_VERSION
from .sessions import Session

__all__ = [
    "Adapter",
    "Cancelled",
    "Context",
    "EncodeError",
    "HostToolError",
    "InvalidRef",
    "PROTOCOL_VERSION",
    "PermissionDenied",
    "Session",
    "TooManyRefs",
    "tool",
]
__version__ = "0.1.0"
