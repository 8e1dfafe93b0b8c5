"""Sync tools: plain calls and generators, run by whichever thread the scheduler gives them."""

from __future__ import annotations

import threading

from . import protocol as P
from .bounds import bounded
from .errors import Cancelled, EncodeError, FrameTooLarge
from .logs import REQUEST

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .adapter import ToolSpec
    from .calls import CallState
    from .codecs import Codec
    from .frame_writer import FrameWriter


class SyncRunner:
    """Mixin of ``Worker``: runs sync calls and sync generators with credit-based flow control."""

    if TYPE_CHECKING:
        _codec: Codec
        _writer: FrameWriter

        def _send_quiet(self, message: list[Any]) -> None: ...

        def _send_error(
            self, call_id: int, kind: str, exc: BaseException | None, message: str | None = None
        ) -> None: ...

        def _reply(self, code: int, call_id: int, tool: str, value: Any) -> None: ...

        def _chunk_failed(self, call: CallState, exc: EncodeError | FrameTooLarge) -> None: ...

        def read_while(self, waiting: Callable[[], bool], timeout: float | None = None) -> bool: ...

        def log(self, level: str, message: str, request: int | None) -> None: ...

    def _run_job(self, call: CallState) -> None:
        """Run a sync call or sync generator to its end."""
        if call.spec.is_stream:
            token = REQUEST.set(call.id)  # prints and log records made by the tool carry its request id
            try:
                self._run_sync_stream(call)
            finally:
                REQUEST.reset(token)
            return
        self._call_sync(call.id, call.spec, call.kwargs)

    def _call_sync(self, call_id: int, spec: ToolSpec, kwargs: dict[str, Any]) -> None:
        """Call a sync tool (not a generator) and send its result or its error. One function: every
        sync call takes it, and each Python call level costs tens of nanoseconds."""
        token = REQUEST.set(call_id)  # prints and log records made by the tool carry its request id
        try:
            value = spec.fn(**kwargs)
        except Cancelled as exc:
            self._send_error(call_id, "cancelled", exc, "cancelled")
        except BaseException as exc:  # noqa: BLE001 - every failure of a tool goes back to the caller
            self._send_error(call_id, "python_error", exc)
        else:
            self._reply(P.RESULT, call_id, spec.name, value)
        finally:
            REQUEST.reset(token)

    def _notify_sync(self, call: CallState) -> None:
        cond = call.cond
        assert isinstance(cond, threading.Condition)
        with cond:
            cond.notify()

    def _run_sync_stream(self, call: CallState) -> None:
        cond = call.cond
        assert isinstance(cond, threading.Condition)
        ctx = call.ctx
        assert ctx is not None  # streams always have a context: their cancel must reach the loop below
        try:
            gen = call.spec.fn(**call.kwargs)
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call.id, "python_error", exc)
            return
        writer = self._writer
        write = writer.write_held
        encode = bounded(self._codec.message_encoder(P.chunk_message(call.id, None)[:-1]), self._writer.max_payload)

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
                    self._send_quiet(P.end_message(call.id))
                    return
                try:
                    write(encode(item))
                except (EncodeError, FrameTooLarge) as exc:
                    self._chunk_failed(call, exc)
                    return
        except Cancelled:
            pass
        except BaseException as exc:  # noqa: BLE001
            self._send_error(call.id, "python_error", exc)
            return
        finally:
            try:
                gen.close()
            except BaseException as exc:  # noqa: BLE001
                self.log("error", f"closing generator {call.spec.name!r} raised {exc!r}", call.id)
        self._send_error(call.id, "cancelled", None, "cancelled")
