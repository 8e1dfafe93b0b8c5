"""Exceptions of the bridge and the error payload sent to the host."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class FrameTooLarge(Exception):
    """A frame's length is above the negotiated maximum payload."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes is over the maximum payload of {limit} bytes")
        self.size = size
        self.limit = limit

    def wire_fields(self) -> dict[str, Any]:
        """The fields of a ``payload_too_large`` error (protocol.json ``error_fields``)."""
        return {"size": self.size, "limit": self.limit}


class EncodeError(TypeError):
    """A value has no wire encoding; the message names its Python type."""


class InvalidArguments(TypeError):
    """The call's arguments do not bind to the tool's signature."""


class AdapterError(Exception):
    """The adapter could not be loaded or has no tools."""


class Cancelled(BaseException):
    """Raised inside a sync tool by ``ctx.check_cancelled()`` once the host cancelled the call.

    Derives from BaseException so that ``except Exception`` in a tool cannot swallow it."""


class HostToolError(Exception):
    """A TypeScript host tool called with ``ctx.call_host`` failed."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BridgeError(Exception):
    """An error of the bridge itself that the host turns into its own typed error (``wire_kind``)."""

    wire_kind = "python_error"

    def wire_fields(self) -> dict[str, Any]:
        return {}


class PermissionDenied(BridgeError):
    """A dotted name is not allowed by the pool's ``allow`` list (nothing was imported)."""

    wire_kind = "permission_denied"

    def __init__(self, target: str, message: str) -> None:
        super().__init__(message)
        self.target = target

    def wire_fields(self) -> dict[str, Any]:
        return {"target": self.target}


class InvalidRef(BridgeError):
    """A reference was used after its release, outside its session, or is unknown."""

    wire_kind = "invalid_ref"


class TooManyRefs(BridgeError):
    """The session already holds its maximum number of references."""

    wire_kind = "too_many_refs"


def error_payload(kind: str, exc: BaseException | None = None, message: str | None = None) -> dict[str, Any]:
    """The dictionary sent in an ``error`` or ``fatal`` message."""
    if exc is None:
        return {"kind": kind, "type": None, "module": None, "message": message or "", "traceback": ""}
    cls = type(exc)
    try:
        import traceback  # on the first error only: keeps the worker's startup light

        text = "".join(traceback.format_exception(exc))
    except MemoryError:
        # Out of memory (a worker at its memory limit): the error must still reach the host.
        text = f"{cls.__qualname__} (traceback unavailable: out of memory)"
    if kind == "python_error" and isinstance(exc, BridgeError):
        kind = exc.wire_kind
    payload = {
        "kind": kind,
        "type": cls.__qualname__,
        "module": cls.__module__,
        "message": message if message is not None else str(exc),
        "traceback": text,
    }
    fields = getattr(exc, "wire_fields", None)  # the fields of its kind: protocol.json "error_fields"
    if fields is not None:
        payload.update(fields())
    return payload
