"""What the parts of a worker need of it, as protocols: a ``Context`` and the session store depend on
``WorkerLink``, never on the ``Worker`` class, so that no module imports the worker back. Types only:
nothing here runs."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from typing import Any, Protocol

    class HostCallPort(Protocol):
        """Host calls as a context makes them (``host_calls.HostCalls``)."""

        def call(self, ctx: Any, tool: str, kwargs: dict[str, Any]) -> Any: ...

        async def acall(self, ctx: Any, tool: str, kwargs: dict[str, Any]) -> Any: ...

    class WorkerLink(Protocol):
        """What a context and the session store need of their worker (``Worker`` implements it)."""

        def log(self, level: str, message: str, request: int | None) -> None: ...

        def release_reader(self) -> None: ...

        def read_while(self, waiting: Callable[[], bool], timeout: float | None) -> bool: ...

        def host_calls(self) -> HostCallPort: ...

        def event_loop(self) -> asyncio.AbstractEventLoop | None: ...
