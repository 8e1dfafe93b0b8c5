"""The per-call ``Context`` a tool may ask for with a ``ctx`` parameter."""

from __future__ import annotations

import threading
import time

from .errors import Cancelled

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterable
    from typing import Any

    from .link import HostCallPort, WorkerLink
    from .session_state import Session

#: The host tool that lists the host tools a call may use (protocol.json "sessions").
HOST_TOOLS = "$host.tools"


class Context:
    """What a tool knows about its call: id, deadline, cancellation, and a logger to the host."""

    __slots__ = (
        "request_id",
        "tool",
        "deadline",
        "_cancelled",
        "_event",
        "_link",
        "_loop",
        "_async_waiters",
        # sessions, references and host calls
        "session_id",
        "_session",
        "_cancel_hooks",
    )

    def __init__(
        self,
        request_id: int,
        tool: str,
        deadline: float | None,
        link: WorkerLink | None,
        session_id: str | None = None,
    ) -> None:
        self.request_id = request_id
        self.tool = tool
        #: ``time.monotonic()`` value after which the host rejects the call, or None.
        self.deadline = deadline
        # A plain flag: most calls are never cancelled, so the Event is only made when someone waits.
        self._cancelled = False
        self._event: threading.Event | None = None
        # The worker: logs, host calls, and the reader role a tool hands over before it blocks.
        self._link = link
        self._loop: asyncio.AbstractEventLoop | None = None
        self._async_waiters: list[asyncio.Future[None]] = []
        #: The id of the session this call belongs to, or None outside a session.
        self.session_id = session_id
        self._session: Session | None = None
        self._cancel_hooks: list[Callable[[], None]] = []

    def remaining(self) -> float | None:
        """Seconds left before the deadline (never negative), or None without a deadline."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    @property
    def cancelled(self) -> bool:
        """True once the host has cancelled this call (timeout, abort, or a stream the consumer left)."""
        return self._cancelled

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the host cancelled this call: a cheap check for loops in sync tools."""
        if self._cancelled:
            raise Cancelled()

    def wait_cancelled_sync(self, timeout: float | None = None) -> bool:
        """Block until the call is cancelled or ``timeout`` seconds pass; returns whether it was."""
        if self._cancelled:
            return True
        event = self._event
        if event is None:
            event = self._event = threading.Event()
            if self._cancelled:  # cancelled while the event was being made
                return True
        if self._link is not None:
            self._link.release_reader()  # so the worker keeps reading its pipe while this thread waits
        return event.wait(timeout)

    async def wait_cancelled(self) -> None:
        """Wait until the host cancels this call."""
        import asyncio  # only when async code runs: keeps the worker's startup light

        if self._cancelled:
            return
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._loop = loop
        self._async_waiters.append(fut)
        await fut

    def log(self, message: str, level: str = "info") -> None:
        """Send a log line to the host, tagged with this call's request id."""
        if self._link is not None:
            self._link.log(level, message, self.request_id)

    # ------------------------------------------------------------ sessions

    @property
    def session(self) -> Session:
        """The session of this call: ``ctx.session.state`` is a dict kept on this worker between the
        session's calls. Raises RuntimeError when the call was not made through a session."""
        session = self._session
        if session is None:
            raise RuntimeError(f"tool {self.tool!r} was not called in a session; call it through pool.session()")
        return session

    def ref(self, obj: object, type_name: str | None = None, *, expose: Iterable[str] | None = None) -> dict[str, Any]:
        """Keep ``obj`` in this call's session and return a reference to it: the host receives a handle
        whose ``call``, ``get`` and ``release`` act on ``obj`` here. By default the handle reaches the
        public methods of ``obj``'s class and its public data attributes; ``expose`` names exactly the
        attributes and methods it reaches instead (docs/security.md, "References")."""
        from .capability import normalise_expose

        return self.session.refs.add(obj, type_name, normalise_expose(expose))

    # ---------------------------------------------------------- host tools

    def call_host(self, tool: str, /, **kwargs: Any) -> Any:
        """Call the TypeScript host tool ``tool`` and return its value. Blocks this sync tool only; raises
        ``HostToolError`` (with the TypeScript error code) when the host tool fails."""
        return self._host_calls().call(self, tool, kwargs)

    async def acall_host(self, tool: str, /, **kwargs: Any) -> Any:
        """Call the TypeScript host tool ``tool`` from an async tool."""
        return await self._host_calls().acall(self, tool, kwargs)

    def host_tools(self) -> list[dict[str, Any]]:
        """The host tools this call may use: name, description and parameters of each."""
        import asyncio  # only when async code runs: keeps the worker's startup light

        host = self._host_calls()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return list(host.call(self, HOST_TOOLS, {}))
        raise RuntimeError("in an async tool use: await ctx.ahost_tools()")

    async def ahost_tools(self) -> list[dict[str, Any]]:
        """``host_tools()`` for async tools."""
        return list(await self._host_calls().acall(self, HOST_TOOLS, {}))

    def _host_calls(self) -> HostCallPort:
        if self._link is None:
            raise RuntimeError("host tools are not available here")
        return self._link.host_calls()

    def _cancel(self) -> None:
        self._cancelled = True
        event = self._event
        if event is not None:
            event.set()
        for hook in list(self._cancel_hooks):
            hook()
        loop = self._loop
        if loop is not None and self._async_waiters:
            waiters, self._async_waiters = self._async_waiters, []

            def wake() -> None:
                for fut in waiters:
                    if not fut.done():
                        fut.set_result(None)

            loop.call_soon_threadsafe(wake)

    def __repr__(self) -> str:
        return f"Context(request_id={self.request_id}, tool={self.tool!r}, cancelled={self.cancelled})"
