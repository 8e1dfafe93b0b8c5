"""Sessions on the worker: per-session state, references and the adapter's session hooks.

A session's state is created at its first call (``setup_session(ctx)`` of the adapter runs then, once)
and freed when the host sends ``session_end`` (close, idle expiry) or the worker stops; then
``teardown_session(ctx)`` runs, after the session's calls in progress have finished. The host keeps
every call of a session on one worker, so the state here is the whole truth."""

from __future__ import annotations

import queue
import threading
import time

from .adapter import ToolSpec
from .context import Context
from .refs import resolve
from .session_state import Session
from .signature import is_async_function, is_awaitable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .link import WorkerLink


class SessionStore:
    def __init__(self, target: object, max_refs: int, link: WorkerLink) -> None:
        self._target = target
        self._max_refs = max_refs
        self._link = link
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._ending: queue.SimpleQueue[Session] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def ids(self) -> list[str]:
        return list(self._sessions)

    # ---------------------------------------------------------------- entering

    def _claim(self, session_id: str) -> tuple[Session, bool]:
        with self._lock:
            session = self._sessions.get(session_id)
            created = session is None
            if session is None:
                session = Session(session_id, self._max_refs)
                self._sessions[session_id] = session
            session._active += 1
            session.last_used = time.monotonic()
        return session, created

    def _setup_failed(self, session: Session) -> None:
        with self._lock:
            if self._sessions.get(session.id) is session:
                del self._sessions[session.id]
            session._active -= 1
        session._failed = True
        session._ready.set()

    def enter_sync(self, session_id: str, ctx: Context) -> Session:
        """Join the session from a worker thread, creating it (and running setup_session) if new."""
        for _ in range(2):
            session, created = self._claim(session_id)
            ctx._session = session
            if created:
                try:
                    self._run_hook_sync("setup_session", ctx)
                except BaseException:
                    self._setup_failed(session)
                    raise
                session._ready.set()
                return session
            session._ready.wait()
            if not session._failed:
                return session
        raise RuntimeError(f"setup_session failed for session {session_id!r}")

    async def enter_async(self, session_id: str, ctx: Context) -> Session:
        """Join the session from the worker's event loop, creating it if new."""
        import asyncio  # only when async code runs: keeps the worker's startup light

        for _ in range(2):
            session, created = self._claim(session_id)
            ctx._session = session
            if created:
                try:
                    await self._run_hook_async("setup_session", ctx)
                except BaseException:
                    self._setup_failed(session)
                    raise
                session._ready.set()
                return session
            if not session._ready.is_set():
                await asyncio.get_running_loop().run_in_executor(None, session._ready.wait)
            if not session._failed:
                return session
        raise RuntimeError(f"setup_session failed for session {session_id!r}")

    def leave(self, session: Session) -> None:
        with self._lock:
            session._active -= 1
            session.last_used = time.monotonic()
            finished = session._ended and session._active == 0
        if finished:
            self._teardown_later(session)

    # ------------------------------------------------------------------ ending

    def end(self, session_id: str) -> None:
        """The host ended the session: forget it now; tear it down once its calls have finished."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is None:
                return
            session._ended = True
            idle = session._active == 0
        if idle:
            self._teardown_later(session)

    def end_all(self) -> None:
        """The worker stops: tear every session down here and now."""
        with self._lock:
            sessions = list(self._sessions.values())
            self._sessions.clear()
        for session in sessions:
            session._ended = True
            self._teardown(session)
        pending = self._ending
        while pending is not None and not pending.empty():
            try:
                self._teardown(pending.get_nowait())
            except queue.Empty:
                break

    def _teardown_later(self, session: Session) -> None:
        """Tear down off the reader thread: ``teardown_session`` is adapter code and may take a while."""
        if getattr(self._target, "teardown_session", None) is None:
            self._teardown(session)
            return
        with self._lock:
            if self._ending is None:
                self._ending = queue.SimpleQueue()
                threading.Thread(target=self._teardowns, name="snakepit-session-end", daemon=True).start()
            self._ending.put(session)

    def _teardowns(self) -> None:
        assert self._ending is not None
        while True:
            self._teardown(self._ending.get())

    def _teardown(self, session: Session) -> None:
        ctx = Context(0, "$session.teardown", None, self._link, session.id)
        ctx._session = session
        try:
            self._run_hook_sync("teardown_session", ctx)
        except BaseException as exc:  # noqa: BLE001 - a failing teardown is logged, the state is freed anyway
            self._link.log("error", f"teardown_session of session {session.id!r} raised {exc!r}", None)
        finally:
            session.refs.clear()
            session.state.clear()

    # ------------------------------------------------------------------- hooks

    def _run_hook_sync(self, name: str, ctx: Context) -> None:
        hook = getattr(self._target, name, None)
        if hook is None:
            return
        result = hook(ctx)
        if is_awaitable(result):
            import asyncio  # only for an async hook: keeps the worker's startup light

            loop = self._link.event_loop()
            if loop is not None and loop.is_running():
                asyncio.run_coroutine_threadsafe(_await(result), loop).result()
            else:
                asyncio.run(_await(result))

    async def _run_hook_async(self, name: str, ctx: Context) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        hook = getattr(self._target, name, None)
        if hook is None:
            return
        if is_async_function(hook):
            await hook(ctx)
            return
        result = await asyncio.get_running_loop().run_in_executor(None, hook, ctx)
        if is_awaitable(result):
            await result

    # --------------------------------------------------------------- wrapping

    def wrap(self, spec: ToolSpec, session_id: str, ctx: Context) -> ToolSpec:
        """``spec`` with its function run inside the session: joined before, left after, and with
        reference markers among its arguments turned back into their objects."""
        return spec.with_fn(_wrapped(self, spec, session_id, ctx))


def _wrapped(store: SessionStore, spec: ToolSpec, session_id: str, ctx: Context) -> Callable[..., Any]:
    fn = spec.fn

    def bind(session: Session, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        return resolve(args, session.refs), resolve(kwargs, session.refs)

    if spec.is_async and spec.is_stream:

        async def agen(*args: Any, **kwargs: Any) -> Any:
            session = await store.enter_async(session_id, ctx)
            try:
                a, k = bind(session, args, kwargs)
                inner = fn(*a, **k)
                try:
                    async for item in inner:
                        yield item
                finally:
                    await inner.aclose()
            finally:
                store.leave(session)

        return agen
    if spec.is_async:

        async def coro(*args: Any, **kwargs: Any) -> Any:
            session = await store.enter_async(session_id, ctx)
            try:
                a, k = bind(session, args, kwargs)
                return await fn(*a, **k)
            finally:
                store.leave(session)

        return coro
    if spec.is_stream:

        def gen(*args: Any, **kwargs: Any) -> Any:
            session = store.enter_sync(session_id, ctx)
            try:
                a, k = bind(session, args, kwargs)
                yield from fn(*a, **k)
            finally:
                store.leave(session)

        return gen

    def plain(*args: Any, **kwargs: Any) -> Any:
        session = store.enter_sync(session_id, ctx)
        try:
            a, k = bind(session, args, kwargs)
            return fn(*a, **k)
        finally:
            store.leave(session)

    return plain


async def _await(awaitable: Any) -> Any:
    return await awaitable
