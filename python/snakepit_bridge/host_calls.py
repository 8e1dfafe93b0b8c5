"""Python calling TypeScript: ``ctx.call_host`` / ``ctx.acall_host`` send ``host_call`` and wait for
the matching ``host_result``, which the worker's reader thread delivers.

A sync tool blocks only its own thread; an async tool awaits a future on the worker's loop. Both stop
waiting when the call is cancelled (``Cancelled`` / ``CancelledError``) or its deadline passes
(``HostToolError`` with code ``TIMEOUT``). A failing host tool raises ``HostToolError`` carrying the
TypeScript error code and message."""

from __future__ import annotations

import itertools
import sys
import threading

from . import protocol as P
from .errors import Cancelled, HostToolError
from .refs import resolve
from .tracing import current_carrier

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from typing import Any

    from .context import Context

#: Seconds past the call's deadline that a wait lasts: the host cancels the call at the deadline, and
#: that cancel (not this timeout) should normally be what ends the wait.
DEADLINE_MARGIN = 0.5


def _wait_limit(ctx: Context) -> float | None:
    remaining = ctx.remaining()
    return None if remaining is None else remaining + DEADLINE_MARGIN


class _SyncWaiter:
    """Wakes a worker thread: a lock held until the result (or a cancel) releases it."""

    __slots__ = ("lock", "done", "ok", "value")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lock.acquire()
        self.done = False
        self.ok = False
        self.value: Any = None

    def deliver(self, ok: bool, value: Any) -> None:
        self.ok, self.value, self.done = ok, value, True
        self.wake()

    def wake(self) -> None:
        try:
            self.lock.release()
        except RuntimeError:
            pass  # woken already (a cancel and the result raced)


class _AsyncWaiter:
    __slots__ = ("loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[tuple[bool, Any]] = loop.create_future()

    def deliver(self, ok: bool, value: Any) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, (ok, value))


def _settle(future: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not future.done():
        future.set_result(outcome)


_TIMED_OUT = (False, None)


class HostCalls:
    """The worker's side of host calls: ids, waiters, and delivery of results.

    Kept lean: a host call costs one frame each way and one thread wake-up."""

    def __init__(self, send: Callable[[list[Any]], None]) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self._waiters: dict[int, _SyncWaiter | _AsyncWaiter] = {}

    def _start(self, ctx: Context, tool: str, kwargs: dict[str, Any], waiter: _SyncWaiter | _AsyncWaiter) -> int:
        if type(tool) is not str or not tool:
            raise TypeError("the host tool's name must be a non-empty string")
        if ctx.request_id == 0:
            raise RuntimeError("host tools can be called only while a call is running")
        host_id = next(self._ids)  # atomic under the GIL
        self._waiters[host_id] = waiter
        try:
            # The trace continues on the host under the current span, when one records (tracing.py).
            self._send(P.host_call_message(host_id, ctx.request_id, tool, kwargs, current_carrier()))
        except BaseException:
            self._waiters.pop(host_id, None)
            raise
        return host_id

    def call(self, ctx: Context, tool: str, kwargs: dict[str, Any]) -> Any:
        """Blocking host call from a sync tool (its worker thread waits; nothing else does)."""
        aio = sys.modules.get("asyncio")  # no event loop can run unless asyncio was imported
        if aio is not None and aio._get_running_loop() is not None:
            raise RuntimeError("ctx.call_host blocks its thread; in an async tool use: await ctx.acall_host(...)")
        ctx.check_cancelled()
        waiter = _SyncWaiter()
        host_id = self._start(ctx, tool, kwargs, waiter)
        hooks = ctx._cancel_hooks
        hooks.append(waiter.wake)
        try:
            if ctx._cancelled:
                waiter.wake()
            # On the reader thread, read the pipe here until the result (or a cancel) arrives: no thread
            # wake-up on either side. Elsewhere, block until the reader thread delivers.
            limit = _wait_limit(ctx)
            link = ctx._link
            if link is None or not link.read_while(lambda: not waiter.done and not ctx._cancelled, limit):
                if not waiter.lock.acquire(True, -1 if limit is None else limit):
                    raise HostToolError("TIMEOUT", f"the call's deadline passed while host tool {tool!r} ran")
            elif not waiter.done and not ctx._cancelled:
                raise HostToolError("TIMEOUT", f"the call's deadline passed while host tool {tool!r} ran")
        finally:
            hooks.remove(waiter.wake)
            self._waiters.pop(host_id, None)
        if not waiter.done:
            raise Cancelled()
        return self._outcome(ctx, waiter.ok, waiter.value)

    async def acall(self, ctx: Context, tool: str, kwargs: dict[str, Any]) -> Any:
        """Host call from an async tool: awaits without blocking the worker's loop."""
        import asyncio  # only when async code runs: keeps the worker's startup light

        ctx.check_cancelled()
        loop = asyncio.get_running_loop()
        waiter = _AsyncWaiter(loop)
        host_id = self._start(ctx, tool, kwargs, waiter)
        limit = _wait_limit(ctx)
        timer = None if limit is None else loop.call_later(limit, _settle, waiter.future, _TIMED_OUT)
        try:
            outcome = await waiter.future
        finally:
            if timer is not None:
                timer.cancel()
            self._waiters.pop(host_id, None)
        if outcome is _TIMED_OUT:
            raise HostToolError("TIMEOUT", f"the call's deadline passed while host tool {tool!r} ran")
        return self._outcome(ctx, outcome[0], outcome[1])

    def _outcome(self, ctx: Context, ok: bool, value: Any) -> Any:
        if ok:
            session = ctx._session
            return resolve(value, session.refs if session is not None else None)
        if isinstance(value, dict):
            raise HostToolError(str(value.get("code", "HOST_TOOL_ERROR")), str(value.get("message", "")))
        raise HostToolError("HOST_TOOL_ERROR", str(value))

    def on_result(self, msg: list[Any]) -> None:
        """A ``host_result`` arrived (reader thread)."""
        _, host_id, ok, value = msg
        waiter = self._waiters.pop(host_id, None)
        if waiter is not None:
            waiter.deliver(bool(ok), value)

    def fail_all(self, message: str) -> None:
        """The host went away: wake every waiter with an error."""
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.deliver(False, {"code": "WORKER_STOPPING", "message": message})
