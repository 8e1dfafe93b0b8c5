"""The state of one running call, shared by dispatch, the scheduler and the runners."""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    import threading
    from typing import Any

    from .adapter import ToolSpec
    from .context import Context


class CallState:
    __slots__ = ("id", "spec", "ctx", "kwargs", "window", "credit", "used", "cond", "task")

    def __init__(self, call_id: int, spec: ToolSpec, ctx: Context | None, window: int) -> None:
        self.id = call_id
        self.spec = spec
        #: None for a plain sync call of a tool without a ``ctx`` parameter: nothing could read it.
        self.ctx = ctx
        self.kwargs: dict[str, Any] = {}
        self.window = window
        # Async streams: chunks the producer may still send. Sync streams: chunks granted so far in
        # all (written by the reader thread only), against ``used`` (written by the producer only), so
        # the producer checks its credit without a lock and takes one only when it must wait.
        self.credit = window
        self.used = 0
        self.cond: threading.Condition | asyncio.Condition | None = None
        self.task: asyncio.Task[None] | None = None


#: A bare ``CallState`` without ``__init__``: the short path sets only what a plain sync call uses.
new_call = CallState.__new__
#: Returned by dispatch for a shutdown message.
STOP = new_call(CallState)


def deadline_of(timeout_ms: Any) -> float | None:
    """The monotonic deadline of a call given its ``timeout_ms`` field (None or 0: no deadline)."""
    return time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
