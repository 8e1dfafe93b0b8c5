"""Exceptions of the bridge and the error payload sent to the host."""

from __future__ import annotations

import traceback
from typing import Any


class FrameTooLarge(Exception):
    """A frame's length is above the negotiated maximum payload."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"frame of {size} bytes is over the maximum payload of {limit} bytes")
        self.size = size
        self.limit = limit


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


def error_payload(kind: str, exc: BaseException | None = None, message: str | None = None) -> dict[str, Any]:
    """The dictionary sent in an ``error`` or ``fatal`` message."""
    if exc is None:
        return {"kind": kind, "type": None, "module": None, "message": message or "", "traceback": ""}
    cls = type(exc)
    try:
        text = "".join(traceback.format_exception(exc))
    except MemoryError:
        # Out of memory (a worker at its memory limit): the error must still reach the host.
        text = f"{cls.__qualname__} (traceback unavailable: out of memory)"
    return {
        "kind": kind,
        "type": cls.__qualname__,
        "module": cls.__module__,
        "message": message if message is not None else str(exc),
        "traceback": text,
    }
