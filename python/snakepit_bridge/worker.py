"""The worker process: reads frames on fd 3, runs tools, writes frames on fd 4.

Threads:
- One thread at a time holds the *reader* role: it reads frames, answers pings, routes cancels and
  credits, and runs short sync tools itself (no hand-off to another thread, so a trivial call costs
  little more than a raw pipe round trip).
- A watchdog thread moves the reader role to another thread when a sync call (or a generator between
  two waits for credit) has run on the reader for more than one check period (about 5 ms), so a long
  or blocking tool never stops the worker from answering pings and reading cancels. A tool that is
  about to wait on the host hands the role over at once.
- Sync generators start like sync calls, on the reader. While one holds the reader role it reads
  the pipe itself whenever it waits for credit; once the watchdog has moved the role away it goes on
  as a plain thread that the reader hands its credit to. A generator never changes thread.
- One asyncio loop thread, started only when the adapter has async tools, runs coroutines and async
  generators.
- The main thread only starts the first reader and waits for the end (host EOF or shutdown), so it is
  always free to run teardown and leave.
Replies are written by whichever thread finishes the work, through a locked frame writer; small
stream chunks wait in its batch for at most about a millisecond (frame_writer.FrameWriter)."""

from __future__ import annotations

import collections
import os
import threading

from . import protocol as P
from .async_runner import AsyncRunner
from .bounds import ONE_BYTE, check_payload
from .dispatch import Dispatcher
from .errors import EncodeError, FrameTooLarge, error_payload
from .scheduler import ReaderScheduler
from .signature import is_awaitable
from .sync_runner import SyncRunner

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterator
    from typing import Any

    from .adapter import ToolSpec
    from .calls import CallState
    from .codecs import Codec
    from .frame_reader import AttachedFrame, FrameReader
    from .frame_writer import FrameWriter
    from .host_calls import HostCalls
    from .sessions import SessionStore


class Worker(Dispatcher, ReaderScheduler, SyncRunner, AsyncRunner):
    """One worker process's protocol side. Its parts, one concept per module: ``dispatch`` (what each
    message means), ``scheduler`` (the reader role and the watchdog), ``sync_runner`` and
    ``async_runner`` (running tools). Here: the state they share, replies to the host, the lazily
    loaded subsystems (host calls, sessions, built-in tools) and the adapter's lifecycle hooks.
    ``Worker`` implements ``link.WorkerLink``, all that contexts and sessions know of it."""

    def __init__(
        self,
        target: object,
        tools: dict[str, ToolSpec],
        codec: Codec,
        reader: FrameReader,
        writer: FrameWriter,
    ) -> None:
        self._target = target
        self._tools = tools
        self._codec = codec
        self._reader = reader
        self._writer = writer
        self._calls: dict[int, CallState] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        # Sessions, references, allowlisted calls and host calls (sessions.py, builtin_tools.py,
        # host_calls.py): each made, and its module imported, at its first use.
        self._host: HostCalls | None = None
        self._sessions: SessionStore | None = None
        self._builtins: dict[str, ToolSpec] | None = None
        self._frames: Iterator[bytes | memoryview | AttachedFrame] = reader.frames()
        # Reader role and thread pool state, all under ``_lock``.
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._reader_ident: int | None = None
        self._inline: CallState | ToolSpec | None = None
        self._inline_owner: int | None = None
        self._inline_seq = 0
        self._watch_sleeping = False
        self._jobs: collections.deque[CallState] = collections.deque()
        self._idle = 0
        self._done = threading.Event()
        self._failure: BaseException | None = None
        #: The host asked for shutdown (as opposed to its pipe reaching EOF because it died).
        self.shutdown_requested = False
        if any(t.is_async for t in tools.values()):
            self._start_loop()

    # ----------------------------------------------------------------- output

    def send(self, message: list[Any]) -> None:
        self._writer.write(self._codec.encode(message))

    def _send_quiet(self, message: list[Any]) -> None:
        try:
            self.send(message)
        except (OSError, EncodeError, FrameTooLarge):
            pass

    def log(self, level: str, message: str, request: int | None) -> None:
        """Send a log line to the host (dropped if it cannot be sent)."""
        self._send_quiet(P.log_message(level, str(message), request))

    def _reply(self, code: int, call_id: int, tool: str, value: Any) -> None:
        """Send a result or chunk; a value that cannot be encoded or is too large becomes an error."""
        try:
            if type(value) not in ONE_BYTE:  # most results: a number, nothing to check
                check_payload(value, self._writer.max_payload)  # bounds.py: stop before encoding too much
            payload = self._codec.encode_reply(code, call_id, value)
        except FrameTooLarge as exc:
            self._send_error(call_id, "payload_too_large", exc)
            return
        except EncodeError as exc:
            text = f"tool {tool!r} returned a value the worker cannot send: {exc}"
            self._send_error(call_id, "encode_error", exc, text)
            return
        try:
            self._writer.write(payload)
        except FrameTooLarge as exc:
            self._send_error(call_id, "payload_too_large", exc)

    def _chunk_failed(self, call: CallState, exc: EncodeError | FrameTooLarge) -> None:
        """A chunk that cannot be encoded or is too large ends its stream with an error."""
        if isinstance(exc, EncodeError):
            text = f"tool {call.spec.name!r} yielded a value the worker cannot send: {exc}"
            self._send_error(call.id, "encode_error", exc, text)
        else:
            self._send_error(call.id, "payload_too_large", exc)

    def _send_error(self, call_id: int, kind: str, exc: BaseException | None, message: str | None = None) -> None:
        self._send_quiet(P.error_message(call_id, error_payload(kind, exc, message)))

    # ------------------------------------------------- lazily loaded subsystems

    def event_loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop that runs async tools, when the adapter has any."""
        return self._loop

    def host_calls(self) -> HostCalls:
        host = self._host
        if host is None:
            from .host_calls import HostCalls  # at the first host call: keeps the worker's startup light

            with self._lock:
                if self._host is None:
                    self._host = HostCalls(self.send)
                host = self._host
        return host

    def _session_store(self) -> SessionStore:
        store = self._sessions
        if store is None:
            from .sessions import SessionStore  # at the first session call: keeps the worker's startup light

            with self._lock:
                if self._sessions is None:
                    max_refs = int(os.environ.get(P.ENV_MAX_REFS) or P.DEFAULT_MAX_REFS)
                    self._sessions = SessionStore(self._target, max_refs, self)
                store = self._sessions
        return store

    def _builtin(self, name: str) -> ToolSpec | None:
        builtins = self._builtins
        if builtins is None:
            from .allow import Allowlist  # at the first built-in call: keeps the worker's startup light
            from .builtin_tools import make_builtin_tools

            builtins = self._builtins = make_builtin_tools(Allowlist.from_env(), self._codec, self.event_loop)
        return builtins.get(name)

    # -------------------------------------------------------------- lifecycle

    def run_hook(self, name: str) -> None:
        """Run ``setup`` or ``teardown`` of the adapter (sync or async) if it has one."""
        hook: Callable[[], Any] | None = getattr(self._target, name, None)
        if hook is None or not callable(hook):
            return
        result = hook()
        if is_awaitable(result):
            import asyncio  # only for an async hook: keeps the worker's startup light

            if self._loop is not None:
                asyncio.run_coroutine_threadsafe(_await(result), self._loop).result()
            else:
                asyncio.run(_await(result))

    def end_sessions(self) -> None:
        """Tear down every live session (``teardown_session``) and wake host calls still waiting."""
        if self._host is not None:
            self._host.fail_all("the worker is stopping")
        if self._sessions is not None:
            self._sessions.end_all()


async def _await(awaitable: Any) -> Any:
    return await awaitable


def exit_now(code: int) -> None:
    """Leave at once: no waiting on executor threads or atexit handlers of the adapter."""
    os._exit(code)
