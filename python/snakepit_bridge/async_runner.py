"""Async tools: coroutines and async generators on the worker's asyncio loop thread, started only
when the adapter has async tools (asyncio is imported only then: a worker starts faster)."""

from __future__ import annotations

import threading

from . import protocol as P
from .bounds import bounded
from .errors import Cancelled, EncodeError, FrameTooLarge
from .logs import REQUEST

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from typing import Any

    from .calls import CallState
    from .codecs import Codec
    from .frame_writer import FrameWriter


class AsyncRunner:
    """Mixin of ``Worker``: the event loop thread, and the tasks of async calls and streams."""

    if TYPE_CHECKING:
        _codec: Codec
        _writer: FrameWriter
        _loop: asyncio.AbstractEventLoop | None

        def _send_quiet(self, message: list[Any]) -> None: ...

        def _send_error(
            self, call_id: int, kind: str, exc: BaseException | None, message: str | None = None
        ) -> None: ...

        def _reply(self, code: int, call_id: int, tool: str, value: Any) -> None: ...

        def _chunk_failed(self, call: CallState, exc: EncodeError | FrameTooLarge) -> None: ...

        def _finish(self, call: CallState) -> None: ...

        def log(self, level: str, message: str, request: int | None) -> None: ...

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

    def _start_task(self, call: CallState) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        runner = self._run_async_stream(call) if call.spec.is_stream else self._run_async(call)
        call.task = asyncio.get_running_loop().create_task(runner)

    def _cancel_task(self, call: CallState) -> None:
        if call.task is not None:
            call.task.cancel()

    def _grant_async(self, call: CallState, n: int) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        call.credit += n
        cond = call.cond
        if isinstance(cond, asyncio.Event):
            cond.set()

    async def _run_async(self, call: CallState) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        REQUEST.set(call.id)  # the task's own context: prints and log records carry the request id
        try:
            value = await call.spec.fn(**call.kwargs)
        except (asyncio.CancelledError, Cancelled) as exc:
            self._send_error(call.id, "cancelled", exc, "cancelled")
            return
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call.id, "python_error", exc)
            return
        finally:
            self._finish(call)
        self._reply(P.RESULT, call.id, call.spec.name, value)

    async def _run_async_stream(self, call: CallState) -> None:
        import asyncio  # only when async code runs: keeps the worker's startup light

        REQUEST.set(call.id)
        credit_event = asyncio.Event()
        call.cond = credit_event  # type: ignore[assignment]
        agen = call.spec.fn(**call.kwargs)
        writer = self._writer
        encode = bounded(self._codec.message_encoder(P.chunk_message(call.id, None)[:-1]), self._writer.max_payload)
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
                    self._send_quiet(P.end_message(call.id))
                    return
                try:
                    if writer.write_held(encode(item)):
                        # A new batch: it goes out as soon as this task lets the loop run.
                        loop.call_soon(writer.flush)
                except (EncodeError, FrameTooLarge) as exc:
                    self._chunk_failed(call, exc)
                    return
        except (asyncio.CancelledError, Cancelled):
            self._send_error(call.id, "cancelled", None, "cancelled")
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call.id, "python_error", exc)
        finally:
            try:
                await agen.aclose()
            except BaseException as exc:  # noqa: BLE001
                self.log("error", f"closing generator {call.spec.name!r} raised {exc!r}", call.id)
            self._finish(call)
