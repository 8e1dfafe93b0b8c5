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
stream chunks wait in its batch for at most about a millisecond (framing.FrameWriter)."""

from __future__ import annotations

import collections
import os
import threading
import time

from . import protocol as P
from .bounds import bounded, check_payload
from .context import Context
from .errors import Cancelled, EncodeError, FrameTooLarge, InvalidArguments, InvalidRef, error_payload
from .refs import is_marker
from .signature import is_awaitable

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable, Iterator
    from typing import Any

    from .adapter import ToolSpec
    from .codecs import Codec
    from .framing import AttachedFrame, FrameReader, FrameWriter
    from .host_calls import HostCalls
    from .sessions import SessionStore


#: How often the watchdog checks whether a sync call has held the reader role too long.
INLINE_CHECK_SECONDS = 0.005
#: How long the watchdog keeps checking after the last inline call before it sleeps until woken.
WATCH_LINGER_SECONDS = 0.5


class _Call:
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


_new_call = _Call.__new__
#: Returned by ``_dispatch`` for a shutdown message.
_STOP = _new_call(_Call)


class Worker:
    def __init__(
        self,
        target: object,
        tools: dict[str, ToolSpec],
        codec: Codec,
        reader: FrameReader,
        writer: FrameWriter,
        concurrency: int,
    ) -> None:
        self._target = target
        self._tools = tools
        self._codec = codec
        self._reader = reader
        self._writer = writer
        self._concurrency = concurrency
        self._calls: dict[int, _Call] = {}
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
        self._inline: _Call | None = None
        self._inline_owner: int | None = None
        self._inline_seq = 0
        self._watch_sleeping = False
        self._jobs: collections.deque[_Call] = collections.deque()
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
        self._send_quiet([P.LOG, level, str(message), request])

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
                    self._sessions = SessionStore(self._target, int(os.environ.get("SNAKEPIT_MAX_REFS") or 1000), self)
                store = self._sessions
        return store

    def _builtin(self, name: str) -> ToolSpec | None:
        builtins = self._builtins
        if builtins is None:
            from .allow import Allowlist  # at the first built-in call: keeps the worker's startup light
            from .builtin_tools import make_builtin_tools

            builtins = self._builtins = make_builtin_tools(Allowlist.from_env(), self._codec, self.event_loop)
        return builtins.get(name)

    def _reply(self, code: int, call: _Call, value: Any) -> None:
        """Send a result or chunk; a value that cannot be encoded or is too large becomes an error."""
        try:
            check_payload(value, self._writer.max_payload)  # bounds.py: stop before encoding too much
            payload = self._codec.encode_reply(code, call.id, value)
        except FrameTooLarge as exc:
            self._send_error(call, "payload_too_large", exc)
            return
        except EncodeError as exc:
            self._send_error(call, "encode_error", exc, f"tool {call.spec.name!r} returned a value that {exc}")
            return
        try:
            self._writer.write(payload)
        except FrameTooLarge as exc:
            self._send_error(call, "payload_too_large", exc)

    def _chunk_failed(self, call: _Call, exc: EncodeError | FrameTooLarge) -> None:
        """A chunk that cannot be encoded or is too large ends its stream with an error."""
        if isinstance(exc, EncodeError):
            self._send_error(call, "encode_error", exc, f"tool {call.spec.name!r} yielded a value that {exc}")
        else:
            self._send_error(call, "payload_too_large", exc)

    def _send_error(self, call: _Call, kind: str, exc: BaseException | None, message: str | None = None) -> None:
        self._send_quiet([P.ERROR, call.id, error_payload(kind, exc, message)])

    # ------------------------------------------------------------------ input

    def serve(self) -> None:
        """Serve until the host closes the pipe or asks for shutdown; re-raises a reading failure."""
        self._spawn(self._idle_loop, claim_reader=True)
        # Always: built-in tools are sync even when every adapter tool is async. It sleeps when idle.
        threading.Thread(target=self._watchdog, name="snakepit-watchdog", daemon=True).start()
        self._done.wait()
        if self._failure is not None:
            raise self._failure

    def _spawn(self, target: Callable[[], None], claim_reader: bool = False) -> None:
        if claim_reader:
            self._reader_ident = None  # vacant: the new thread claims it
        threading.Thread(target=target, name="snakepit-worker", daemon=True).start()

    def _read_loop(self) -> None:
        """Read and dispatch frames while this thread holds the reader role."""
        me = threading.get_ident()
        reader, writer = self._reader, self._writer
        holding = False
        try:
            for frame in self._frames:
                # While the next request is already buffered, replies are held and written together.
                if reader.next_ready and not holding:
                    writer.hold()
                    holding = True
                call = self._dispatch(frame)
                # Drop the frame before waiting for the next: an idle worker keeps no call's data alive.
                frame = None  # type: ignore[assignment]
                if call is not None:
                    if call is _STOP:
                        break
                    self._run_inline(call, me)
                    call = None
                    with self._lock:
                        if self._reader_ident != me:
                            writer.release()
                            return  # the role moved on while the call ran
                if holding and not reader.next_ready:
                    writer.release()  # reading the next frame may block: nothing may wait behind it
                    holding = False
        except BaseException as exc:  # noqa: BLE001 - reported by serve() on the main thread
            self._failure = exc
        writer.release()
        self._finish_serving()

    def _dispatch(self, frame: bytes | memoryview | AttachedFrame) -> _Call | None:
        """Handle one frame; returns a sync call for the reader to run, or _STOP at shutdown."""
        msg = self._codec.decode(frame)
        kind = msg[0]
        if kind == P.CALL:
            return self._on_call(msg)
        if kind == P.PING:
            self._send_quiet([P.PONG, msg[1]])
        elif kind == P.CANCEL:
            self._on_cancel(msg[1])
        elif kind == P.CREDIT:
            self._on_credit(msg[1], msg[2])
        elif kind == P.HOST_RESULT:
            if self._host is not None:
                self._host.on_result(msg)
        elif kind == P.SESSION_END:
            if self._sessions is not None:
                self._sessions.end(msg[1])
        elif kind == P.SHUTDOWN:
            self.shutdown_requested = True
            return _STOP
        # Unknown kinds from a newer host are ignored on purpose.
        return None

    def read_while(self, waiting: Callable[[], bool], timeout: float | None = None) -> bool:
        """Called by a sync tool that waits on the host, or a sync generator that waits for credit.
        When this thread holds the reader role, it reads and dispatches frames itself while
        ``waiting()`` is true (calls that arrive meanwhile go to pooled threads), which saves two
        thread wake-ups per host call or credit; it stops after ``timeout`` seconds without the
        condition clearing. Returns False, having done nothing, when another thread reads: the caller
        then blocks until that thread delivers."""
        me = threading.get_ident()
        with self._lock:
            if self._reader_ident != me:
                return False
            self._writer.release()  # the host call just sent must go out before this thread waits
            inline = self._inline if self._inline_owner == me else None
            # Reading, not running tool code: the watchdog must not move the role.
            self._inline = self._inline_owner = None
        until = None if timeout is None else time.monotonic() + timeout
        try:
            while waiting():
                if until is not None and not self._reader.wait_readable(until - time.monotonic()):
                    break
                frame = next(self._frames, None)
                if frame is None:
                    self._finish_serving()
                    break
                call = self._dispatch(frame)
                if call is _STOP:
                    self._finish_serving()
                    break
                if call is not None:
                    self._submit_job(call)
        except BaseException as exc:  # noqa: BLE001 - reported by serve() on the main thread
            self._failure = exc
            self._finish_serving()
        finally:
            with self._lock:
                if inline is not None and self._reader_ident == me:
                    self._inline, self._inline_owner = inline, me
                    self._inline_seq += 1
                    # Tool code runs on the reader again: the watchdog may have gone to sleep meanwhile.
                    self._wake_watchdog()
        return True

    def _submit_job(self, call: _Call) -> None:
        """Run ``call`` on a pooled thread (calls read while a tool or generator waits)."""
        with self._lock:
            self._jobs.append(call)
            if self._idle > 0:
                self._wake.notify_all()
            else:
                self._spawn(self._idle_loop)

    def _finish_serving(self) -> None:
        with self._lock:
            self._reader_ident = -1  # nobody reads any more
            self._wake.notify_all()
        self._done.set()

    def _idle_loop(self) -> None:
        """A pooled thread: takes the vacant reader role, or runs a queued sync call or generator."""
        me = threading.get_ident()
        while True:
            with self._lock:
                self._idle += 1
                while not self._jobs and self._reader_ident is not None and not self._done.is_set():
                    self._wake.wait()
                self._idle -= 1
                if self._done.is_set():
                    return
                job = self._jobs.popleft() if self._jobs else None
                if job is None:
                    self._reader_ident = me
            if job is not None:
                try:
                    self._run_job(job)
                finally:
                    self._finish(job)
                job = None  # the finished call's arguments are not kept alive while this thread idles
            else:
                self._read_loop()

    def _run_inline(self, call: _Call, me: int) -> None:
        # Plain attribute writes, no lock: only the reader thread writes these, and the watchdog
        # tolerates a stale read (at worst it moves the reader role once without need).
        self._inline_owner = me
        self._inline = call
        self._inline_seq += 1
        if self._watch_sleeping:
            with self._lock:
                self._wake_watchdog()
        try:
            self._run_job(call)
        finally:
            self._finish(call)
            if self._inline_owner == me:  # unless the role was handed over meanwhile
                self._inline = self._inline_owner = None

    def release_reader(self) -> None:
        """Called by a sync tool about to block (waiting on the host): if it runs on the reader
        thread, give the reader role to another thread at once."""
        me = threading.get_ident()
        with self._lock:
            if self._reader_ident == me:
                self._writer.release()
                self._hand_over_reader()

    def _hand_over_reader(self) -> None:
        # Caller holds the lock. Replies held by the old reader go out now, not after its long call.
        self._writer.release()
        self._reader_ident = None
        self._inline = self._inline_owner = None
        if self._idle > 0:
            self._wake.notify_all()
        else:
            self._spawn(self._idle_loop)

    def _wake_watchdog(self) -> None:
        # Caller holds the lock.
        if self._watch_sleeping:
            self._watch_sleeping = False
            self._wake.notify_all()

    def _watchdog(self) -> None:
        seen = -1
        quiet_since = time.monotonic()
        while not self._done.is_set():
            with self._lock:
                if self._inline is None:
                    if time.monotonic() - quiet_since > WATCH_LINGER_SECONDS:
                        self._watch_sleeping = True
                        while self._watch_sleeping and not self._done.is_set():
                            self._wake.wait()
                        quiet_since = time.monotonic()
                        continue
                else:
                    quiet_since = time.monotonic()
                    if self._inline_seq == seen and self._reader_ident == self._inline_owner:
                        # The same call has held the reader role for a whole period: move the role.
                        self._hand_over_reader()
                seen = self._inline_seq
            time.sleep(INLINE_CHECK_SECONDS)

    def _on_call(self, msg: list[Any]) -> _Call | None:
        """Check and start a call. Returns it when it is a sync call for the reader to run inline."""
        _, call_id, tool_name, args, timeout_ms, session_id, window = msg
        spec = self._tools.get(tool_name)
        if (
            spec is not None
            and session_id is None
            and not window
            and not spec.is_async
            and not spec.is_stream
            and type(args) is dict
            and spec.simple_names is not None
            and args.keys() <= spec.simple_names
            and spec.simple_required <= args.keys()
        ):
            # The common case, kept short: a plain sync tool whose named arguments bind as they came.
            for value in args.values():
                if type(value) is dict and is_marker(value):
                    break
            else:
                call = _new_call(_Call)  # only what a plain sync call uses: a call costs a few us in all
                call.id = call_id
                call.spec = spec
                call.kwargs = args
                call.cond = None
                ctx_param = spec.ctx_param
                if ctx_param is None:
                    # Nothing could read a Context: none is made, and a cancel has nothing to tell.
                    call.ctx = None
                    return call
                deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
                call.ctx = args[ctx_param] = Context(call_id, tool_name, deadline, self)
                self._calls[call_id] = call  # dict writes are atomic: no lock needed
                return call
        return self._start_call(call_id, tool_name, spec, args, timeout_ms, session_id, window)

    def _start_call(
        self,
        call_id: int,
        tool_name: Any,
        spec: ToolSpec | None,
        args: Any,
        timeout_ms: Any,
        session_id: str | None,
        window: Any,
    ) -> _Call | None:
        """Every call the short path of ``_on_call`` does not take: sessions, streams, async tools,
        built-in tools, arguments that need the general binding, and every error."""
        if spec is None and str(tool_name).startswith("$"):
            spec = self._builtin(tool_name)
        deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
        if spec is None:
            known = ", ".join(sorted(self._tools))
            self._send_quiet(
                [P.ERROR, call_id, error_payload("tool_not_found", None, f"no tool {tool_name!r}; tools: {known}")]
            )
            return None
        ctx = Context(call_id, tool_name, deadline, self, session_id)
        if session_id is not None:
            spec = self._session_store().wrap(spec, session_id, ctx)
        elif type(args) is dict:
            for value in args.values():
                if type(value) is dict and is_marker(value):
                    exc = InvalidRef("a reference was passed to a call outside its session")
                    self._send_quiet([P.ERROR, call_id, error_payload("python_error", exc)])
                    return None
        call = _Call(call_id, spec, ctx, int(window or 0))
        if bool(call.window) != spec.is_stream:
            text = "is a generator: consume it as a stream" if spec.is_stream else "is not a generator"
            self._send_error(call, "not_streaming", None, f"tool {tool_name!r} {text}")
            return None
        try:
            call.kwargs = spec.bind(args if args is not None else {})
        except InvalidArguments as exc:
            self._send_error(call, "invalid_arguments", exc)
            return None
        if spec.is_stream and not spec.is_async:
            call.cond = threading.Condition()
        if spec.ctx_param is not None:
            call.kwargs[spec.ctx_param] = call.ctx
        self._calls[call_id] = call  # dict writes are atomic: no lock needed
        if spec.is_async:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._start_task, call)
            return None
        return call

    def _on_cancel(self, call_id: int) -> None:
        call = self._calls.get(call_id)
        if call is None or call.ctx is None:
            return
        call.ctx._cancel()
        if call.spec.is_async:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._cancel_task, call)
        elif call.cond is not None:
            self._notify_sync(call)

    def _on_credit(self, call_id: int, n: int) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        if call.spec.is_async:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._grant_async, call, n)
        else:
            cond = call.cond
            assert isinstance(cond, threading.Condition)
            with cond:
                call.credit += n
                cond.notify()

    def _finish(self, call: _Call) -> None:
        if call.ctx is not None:  # a call without a context was never registered
            self._calls.pop(call.id, None)

    # ------------------------------------------------------------- sync tools

    def _run_job(self, call: _Call) -> None:
        if call.spec.is_stream:
            self._run_sync_stream(call)
        else:
            self._run_sync(call)

    def _run_sync(self, call: _Call) -> None:
        try:
            value = call.spec.fn(**call.kwargs)
        except Cancelled as exc:
            self._send_error(call, "cancelled", exc, "cancelled")
            return
        except BaseException as exc:  # noqa: BLE001 - every failure of a tool goes back to the caller
            self._send_error(call, "python_error", exc)
            return
        self._reply(P.RESULT, call, value)

    def _notify_sync(self, call: _Call) -> None:
        cond = call.cond
        assert isinstance(cond, threading.Condition)
        with cond:
            cond.notify()

    def _run_sync_stream(self, call: _Call) -> None:
        cond = call.cond
        assert isinstance(cond, threading.Condition)
        ctx = call.ctx
        assert ctx is not None  # streams always have a context: their cancel must reach the loop below
        try:
            gen = call.spec.fn(**call.kwargs)
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
            return
        writer = self._writer
        write = writer.write_held
        encode = bounded(self._codec.message_encoder([P.CHUNK, call.id]), self._writer.max_payload)

        def waiting() -> bool:
            return call.credit - call.used <= 0 and not ctx.cancelled

        try:
            while True:
                if call.credit - call.used <= 0 or ctx.cancelled:
                    writer.flush()  # the host grants credit for chunks it has received
                    while waiting():
                        # Holding the reader role, this thread reads its credit itself (no thread
                        # wake-up on either side); otherwise the reader delivers it.
                        if not self.read_while(waiting):
                            with cond:
                                while waiting():
                                    cond.wait()
                    if ctx.cancelled:
                        break
                call.used += 1
                try:
                    item = next(gen)
                except StopIteration:
                    self._send_quiet([P.END, call.id])
                    return
                try:
                    write(encode(item))
                except (EncodeError, FrameTooLarge) as exc:
                    self._chunk_failed(call, exc)
                    return
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
            return
        finally:
            try:
                gen.close()
            except BaseException as exc:  # noqa: BLE001
                self.log("error", f"closing generator {call.spec.name!r} raised {exc!r}", call.id)
        self._send_error(call, "cancelled", None, "cancelled")

    # ------------------------------------------------------------ async tools

    def _start_loop(self) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        loop = asyncio.new_event_loop()
        self._loop = loop
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(ready.set)
            loop.run_forever()

        threading.Thread(target=run, name="snakepit-asyncio", daemon=True).start()
        ready.wait()

    def _start_task(self, call: _Call) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        runner = self._run_async_stream(call) if call.spec.is_stream else self._run_async(call)
        call.task = asyncio.get_running_loop().create_task(runner)

    def _cancel_task(self, call: _Call) -> None:
        if call.task is not None:
            call.task.cancel()

    def _grant_async(self, call: _Call, n: int) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        call.credit += n
        cond = call.cond
        if isinstance(cond, asyncio.Event):
            cond.set()

    async def _run_async(self, call: _Call) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        try:
            value = await call.spec.fn(**call.kwargs)
        except (asyncio.CancelledError, Cancelled) as exc:
            self._send_error(call, "cancelled", exc, "cancelled")
            return
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
            return
        finally:
            self._finish(call)
        self._reply(P.RESULT, call, value)

    async def _run_async_stream(self, call: _Call) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        credit_event = asyncio.Event()
        call.cond = credit_event  # type: ignore[assignment]
        agen = call.spec.fn(**call.kwargs)
        writer = self._writer
        encode = bounded(self._codec.message_encoder([P.CHUNK, call.id]), self._writer.max_payload)
        loop = asyncio.get_running_loop()
        try:
            while True:
                if call.credit <= 0:
                    writer.flush()  # the host grants credit for chunks it has received
                    while call.credit <= 0:
                        credit_event.clear()
                        await credit_event.wait()
                call.credit -= 1
                try:
                    item = await agen.__anext__()
                except StopAsyncIteration:
                    self._send_quiet([P.END, call.id])
                    return
                try:
                    if writer.write_held(encode(item)):
                        # A new batch: it goes out as soon as this task lets the loop run.
                        loop.call_soon(writer.flush)
                except (EncodeError, FrameTooLarge) as exc:
                    self._chunk_failed(call, exc)
                    return
        except (asyncio.CancelledError, Cancelled):
            self._send_error(call, "cancelled", None, "cancelled")
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
        finally:
            try:
                await agen.aclose()
            except BaseException as exc:  # noqa: BLE001
                self.log("error", f"closing generator {call.spec.name!r} raised {exc!r}", call.id)
            self._finish(call)

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
