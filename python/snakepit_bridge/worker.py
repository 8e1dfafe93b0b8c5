"""The worker process: reads frames on fd 3, runs tools, writes frames on fd 4.

Threads:
- the main thread reads frames and answers pings itself, so a CPU-bound tool never hides a live worker;
- ``concurrency`` executor threads run sync tools and sync generators;
- one asyncio loop thread, started only when the adapter has async tools, runs coroutines and async
  generators.
Replies are written by whichever thread finishes the work, through a locked frame writer."""

from __future__ import annotations

import asyncio
import inspect
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from . import protocol as P
from .adapter import ToolSpec
from .codecs import Codec
from .context import Context, make_log_sender
from .errors import Cancelled, EncodeError, FrameTooLarge, InvalidArguments, error_payload
from .framing import FrameReader, FrameWriter


class _Call:
    __slots__ = ("id", "spec", "ctx", "args", "kwargs", "window", "credit", "cond", "task")

    def __init__(self, call_id: int, spec: ToolSpec, ctx: Context, window: int) -> None:
        self.id = call_id
        self.spec = spec
        self.ctx = ctx
        self.args: tuple[Any, ...] = ()
        self.kwargs: dict[str, Any] = {}
        self.window = window
        self.credit = window
        self.cond: threading.Condition | asyncio.Condition | None = None
        self.task: asyncio.Task[None] | None = None


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
        self._calls_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._log = make_log_sender(self._send_quiet, P.LOG)
        #: The host asked for shutdown (as opposed to its pipe reaching EOF because it died).
        self.shutdown_requested = False
        if any(not t.is_async for t in tools.values()):
            for i in range(concurrency):
                t = threading.Thread(target=self._executor, name=f"snakepit-exec-{i}", daemon=True)
                t.start()
                self._threads.append(t)
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

    def _reply(self, code: int, call: _Call, value: Any) -> None:
        """Send a result or chunk; a value that cannot be encoded or is too large becomes an error."""
        try:
            payload = self._codec.encode([code, call.id, value])
        except EncodeError as exc:
            self._send_error(call, "encode_error", exc, f"tool {call.spec.name!r} returned a value that {exc}")
            return
        try:
            self._writer.write(payload)
        except FrameTooLarge as exc:
            self._send_error(call, "payload_too_large", exc)

    def _send_error(self, call: _Call, kind: str, exc: BaseException | None, message: str | None = None) -> None:
        self._send_quiet([P.ERROR, call.id, error_payload(kind, exc, message)])

    # ------------------------------------------------------------------ input

    def serve(self) -> None:
        """Read frames until the host closes the pipe or asks for shutdown."""
        decode = self._codec.decode
        for frame in self._reader.frames():
            msg = decode(frame)
            kind = msg[0]
            if kind == P.CALL:
                self._on_call(msg)
            elif kind == P.PING:
                self._send_quiet([P.PONG, msg[1]])
            elif kind == P.CANCEL:
                self._on_cancel(msg[1])
            elif kind == P.CREDIT:
                self._on_credit(msg[1], msg[2])
            elif kind == P.SHUTDOWN:
                self.shutdown_requested = True
                return
            # Unknown kinds from a newer host are ignored on purpose.

    def _on_call(self, msg: list[Any]) -> None:
        _, call_id, tool_name, args, timeout_ms, _session, window = msg
        spec = self._tools.get(tool_name)
        deadline = time.monotonic() + timeout_ms / 1000.0 if timeout_ms else None
        if spec is None:
            known = ", ".join(sorted(self._tools))
            self._send_quiet(
                [P.ERROR, call_id, error_payload("tool_not_found", None, f"no tool {tool_name!r}; tools: {known}")]
            )
            return
        call = _Call(call_id, spec, Context(call_id, tool_name, deadline, self._log), int(window or 0))
        if bool(call.window) != spec.is_stream:
            text = "is a generator: consume it as a stream" if spec.is_stream else "is not a generator"
            self._send_error(call, "not_streaming", None, f"tool {tool_name!r} {text}")
            return
        try:
            bound = spec.bind(args if args is not None else {})
        except InvalidArguments as exc:
            self._send_error(call, "invalid_arguments", exc)
            return
        call.args, call.kwargs = bound.args, bound.kwargs
        if spec.is_stream and not spec.is_async:
            call.cond = threading.Condition()
        if spec.ctx_param is not None:
            call.kwargs[spec.ctx_param] = call.ctx
        with self._calls_lock:
            self._calls[call_id] = call
        if spec.is_async:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._start_task, call)
        else:
            self._jobs.put(call)

    def _on_cancel(self, call_id: int) -> None:
        call = self._calls.get(call_id)
        if call is None:
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
        with self._calls_lock:
            self._calls.pop(call.id, None)

    # ------------------------------------------------------------- sync tools

    def _executor(self) -> None:
        while True:
            call = self._jobs.get()
            if call is None:
                return
            try:
                if call.spec.is_stream:
                    self._run_sync_stream(call)
                else:
                    self._run_sync(call)
            finally:
                self._finish(call)

    def _run_sync(self, call: _Call) -> None:
        try:
            value = call.spec.fn(*call.args, **call.kwargs)
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
        try:
            gen = call.spec.fn(*call.args, **call.kwargs)
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
            return
        try:
            while True:
                with cond:
                    while call.credit <= 0 and not ctx.cancelled:
                        cond.wait()
                    if ctx.cancelled:
                        break
                    call.credit -= 1
                try:
                    item = next(gen)
                except StopIteration:
                    self._send_quiet([P.END, call.id])
                    return
                self._reply(P.CHUNK, call, item)
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
            return
        finally:
            try:
                gen.close()
            except BaseException as exc:  # noqa: BLE001
                self._log("error", f"closing generator {call.spec.name!r} raised {exc!r}", call.id)
        self._send_error(call, "cancelled", None, "cancelled")

    # ------------------------------------------------------------ async tools

    def _start_loop(self) -> None:
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
        runner = self._run_async_stream(call) if call.spec.is_stream else self._run_async(call)
        call.task = asyncio.get_running_loop().create_task(runner)

    def _cancel_task(self, call: _Call) -> None:
        if call.task is not None:
            call.task.cancel()

    def _grant_async(self, call: _Call, n: int) -> None:
        call.credit += n
        cond = call.cond
        if isinstance(cond, asyncio.Event):
            cond.set()

    async def _run_async(self, call: _Call) -> None:
        try:
            value = await call.spec.fn(*call.args, **call.kwargs)
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
        credit_event = asyncio.Event()
        call.cond = credit_event  # type: ignore[assignment]
        agen = call.spec.fn(*call.args, **call.kwargs)
        try:
            while True:
                while call.credit <= 0:
                    credit_event.clear()
                    await credit_event.wait()
                call.credit -= 1
                try:
                    item = await agen.__anext__()
                except StopAsyncIteration:
                    self._send_quiet([P.END, call.id])
                    return
                self._reply(P.CHUNK, call, item)
        except (asyncio.CancelledError, Cancelled):
            self._send_error(call, "cancelled", None, "cancelled")
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call, "python_error", exc)
        finally:
            try:
                await agen.aclose()
            except BaseException as exc:  # noqa: BLE001
                self._log("error", f"closing generator {call.spec.name!r} raised {exc!r}", call.id)
            self._finish(call)

    # -------------------------------------------------------------- lifecycle

    def run_hook(self, name: str) -> None:
        """Run ``setup`` or ``teardown`` of the adapter (sync or async) if it has one."""
        hook: Callable[[], Any] | None = getattr(self._target, name, None)
        if hook is None or not callable(hook):
            return
        result = hook()
        if inspect.isawaitable(result):
            if self._loop is not None:
                asyncio.run_coroutine_threadsafe(_await(result), self._loop).result()
            else:
                asyncio.run(_await(result))

    def stop(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def exit_now(code: int) -> None:
    """Leave at once: no waiting on executor threads or atexit handlers of the adapter."""
    os._exit(code)
