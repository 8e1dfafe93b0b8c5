"""Python calling TypeScript: ``ctx.call_host`` / ``ctx.acall_host`` send ``host_call`` and wait for
the matching ``host_result``, which the worker's reader thread delivers.

A sync tool blocks only its own thread; an async tool awaits a future on the worker's loop. Both stop
waiting when the call is cancelled (``Cancelled`` / ``CancelledError``) or its deadline passes
(``HostToolError`` with code ``TIMEOUT``). A failing host tool raises ``HostToolError`` carrying the
TypeScript error code and message."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import protocol as P
from .errors import Cancelled, HostToolError
from .refs import resolve

if TYPE_CHECKING:
    from .context import Context

HOST_TOOLS = "$host.tools"
#: Seconds past the call's deadline that a wait lasts: the host cancels the call at the deadline, and
#: that cancel (not this timeout) should normally be what ends the wait.
DEADLINE_MARGIN = 0.5


def _wait_limit(ctx: Context) -> float | None:
    remaining = ctx.remaining()
    return None if remaining is None else remaining + DEADLINE_MARGIN


class _SyncWaiter:
    __slots__ = ("event", "done", "ok", "value")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.done = False
        self.ok = False
        self.value: Any = None

    def deliver(self, ok: bool, value: Any) -> None:
        self.ok, self.value, self.done = ok, value, True
        self.event.set()


class _AsyncWaiter:
    __slots__ = ("loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[tuple[bool, Any]] = loop.create_future()

    def deliver(self, ok: bool, value: Any) -> None:
        self.loop.call_soon_threadsafe(_settle, self.future, ok, value)


def _settle(future: asyncio.Future[tuple[bool, Any]], ok: bool, value: Any) -> None:
    if not future.done():
        future.set_result((ok, value))


class HostCalls:
    """The worker's side of host calls: ids, waiters, and delivery of results."""

    def __init__(self, send: Callable[[list[Any]], None]) -> None:
        self._send = send
        self._ids = itertools.count(1)
        self._waiters: dict[int, _SyncWaiter | _AsyncWaiter] = {}
        self._lock = threading.Lock()

    def _start(self, ctx: Context, tool: str, kwargs: dict[str, Any], waiter: _SyncWaiter | _AsyncWaiter) -> int:
        if not isinstance(tool, str) or not tool:
            raise TypeError("the host tool's name must be a non-empty string")
        if ctx.request_id == 0:
            raise RuntimeError("host tools can be called only while a call is running")
        with self._lock:
            host_id = next(self._ids)
            self._waiters[host_id] = waiter
        try:
            self._send([P.HOST_CALL, host_id, ctx.request_id, tool, kwargs])
        except BaseException:
            self._forget(host_id)
            raise
        return host_id

    def _forget(self, host_id: int) -> None:
        with self._lock:
            self._waiters.pop(host_id, None)

    def call(self, ctx: Context, tool: str, kwargs: dict[str, Any]) -> Any:
        """Blocking host call from a sync tool (its worker thread waits; nothing else does)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("ctx.call_host blocks its thread; in an async tool use: await ctx.acall_host(...)")
        ctx.check_cancelled()
        waiter = _SyncWaiter()
        host_id = self._start(ctx, tool, kwargs, waiter)
        remove = ctx._on_cancel(waiter.event.set)
        try:
            if not waiter.event.wait(_wait_limit(ctx)):
                raise HostToolError("TIMEOUT", f"the call's deadline passed while host tool {tool!r} ran")
        finally:
            remove()
            self._forget(host_id)
        if not waiter.done:
            raise Cancelled()
        return self._outcome(ctx, waiter.ok, waiter.value)

    async def acall(self, ctx: Context, tool: str, kwargs: dict[str, Any]) -> Any:
        """Host call from an async tool: awaits without blocking the worker's loop."""
        ctx.check_cancelled()
        waiter = _AsyncWaiter(asyncio.get_running_loop())
        host_id = self._start(ctx, tool, kwargs, waiter)
        try:
            try:
                ok, value = await asyncio.wait_for(waiter.future, _wait_limit(ctx))
            except asyncio.TimeoutError:
                raise HostToolError("TIMEOUT", f"the call's deadline passed while host tool {tool!r} ran") from None
        finally:
            self._forget(host_id)
        return self._outcome(ctx, ok, value)

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
        with self._lock:
            waiter = self._waiters.pop(host_id, None)
        if waiter is not None:
            waiter.deliver(bool(ok), value)

    def fail_all(self, message: str) -> None:
        """The host went away: wake every waiter with an error."""
        with self._lock:
            waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            waiter.deliver(False, {"code": "WORKER_STOPPING", "message": message})
