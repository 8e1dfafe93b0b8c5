"""snakepit_bridge: the Python side of Snakepit. Write tools, the host runs them in a worker pool."""

# fast_datetime first, for its effect: what follows imports ``datetime`` (fast_datetime.py says why).
from . import fast_datetime  # noqa: F401
from .adapter import Adapter, tool
from .context import Context
from .errors import Cancelled, EncodeError, HostToolError, InvalidRef, PermissionDenied, TooManyRefs
from .protocol import VERSION as PROTOCOL_VERSION

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .serving import Batch, Cache
    from .session_state import Session

__all__ = [
    "Adapter",
    "Batch",
    "Cache",
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


def __getattr__(name: str) -> object:
    # Sessions and the serving options load on first use: a worker whose adapter uses neither never
    # imports them.
    if name == "Session":
        from .session_state import Session

        return Session
    if name in ("Batch", "Cache"):
        from . import serving

        return getattr(serving, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
