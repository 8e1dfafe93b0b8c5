"""Dispatch: one decoded frame from the host becomes a started call, a cancel, a credit grant, a
host result, a session's end, or a shutdown."""

from __future__ import annotations

import threading

from . import lifeline, tracing
from . import protocol as P
from .calls import STOP, CallState, deadline_of, new_call
from .context import Context
from .errors import InvalidArguments, InvalidRef, error_payload
from .handshake import decode_plain
from .protocol import CALL
from .refs import is_marker
from .tracing import recording

TYPE_CHECKING = False
if TYPE_CHECKING:
    import asyncio
    from collections.abc import Callable
    from typing import Any

    from .adapter import ToolSpec
    from .codecs import Codec
    from .frame_reader import AttachedFrame
    from .host_calls import HostCalls
    from .sessions import SessionStore


def _has_marker(args: dict[str, Any]) -> bool:
    for value in args.values():
        if type(value) is dict and is_marker(value):
            return True
    return False


class Dispatcher:
    """Mixin of ``Worker``: reads the meaning of each message the host sends."""

    if TYPE_CHECKING:
        _codec: Codec
        _tools: dict[str, ToolSpec]
        _calls: dict[int, CallState]
        _loop: asyncio.AbstractEventLoop | None
        _host: HostCalls | None
        _sessions: SessionStore | None
        shutdown_requested: bool

        def _send_quiet(self, message: list[Any]) -> None: ...

        def _send_error(
            self, call_id: int, kind: str, exc: BaseException | None, message: str | None = None
        ) -> None: ...

        def _builtin(self, name: str) -> ToolSpec | None: ...

        def _session_store(self) -> SessionStore: ...

        def _start_task(self, call: CallState) -> None: ...

        def _cancel_task(self, call: CallState) -> None: ...

        def _grant_async(self, call: CallState, n: int) -> None: ...

        def _notify_sync(self, call: CallState) -> None: ...

        # link.WorkerLink, which a Context receives as ``self``.
        def log(self, level: str, message: str, request: int | None) -> None: ...

        def release_reader(self) -> None: ...

        def read_while(self, waiting: Callable[[], bool], timeout: float | None = None) -> bool: ...

        def host_calls(self) -> HostCalls: ...

        def event_loop(self) -> asyncio.AbstractEventLoop | None: ...

    def _answer_handshake_ping(self, frame: bytes | memoryview | AttachedFrame) -> bool:
        """Answer the host's first frame when it is the handshake's ping, which the host writes in JSON
        as soon as it is connected (before ``hello`` names the codec, so the worker answers it right
        after ``hello`` without waiting for the host); False, having done nothing, for anything else.
        A MessagePack message is an array, so a JSON frame (``[``) is never one."""
        if not isinstance(frame, (bytes, memoryview)) or frame[:1] != b"[":
            return False
        try:
            msg = decode_plain(bytes(frame))
        except ValueError:
            return False
        if type(msg) is not list or len(msg) != 2 or msg[0] != P.PING or type(msg[1]) is not int:
            return False
        self._send_quiet(P.pong_message(msg[1]))
        return True

    def _dispatch(self, frame: bytes | memoryview | AttachedFrame) -> CallState | None:
        """Handle one frame; returns a sync call for the reader to run, or STOP at shutdown."""
        return self._dispatch_message(self._codec.decode(frame))

    def _dispatch_message(self, msg: Any) -> CallState | None:
        """Handle one decoded message: ``_dispatch`` once the frame is decoded."""
        kind = msg[0]
        if kind == P.CALL:
            return self._on_call(msg)
        if kind == P.PING:
            self._send_quiet(P.pong_message(msg[1]))
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
            lifeline.ending()
            return STOP
        # Unknown kinds from a newer host are ignored on purpose.
        return None

    def _on_call(self, msg: list[Any]) -> CallState | None:
        """Check and start a call. Returns it when it is a sync call for the reader to run inline."""
        try:
            _, call_id, tool_name, args, timeout_ms, session_id, window = msg
        except ValueError:
            # Fields appended by a newer host are ignored; a call with fields missing is refused.
            if len(msg) < 7:
                self._malformed(msg)
                return None
            carrier, msg = msg[7], msg[:7]
            _, call_id, tool_name, args, timeout_ms, session_id, window = msg
            if recording(carrier):  # a trace context, and an SDK records here: the tool runs in a span
                spec = self._tools.get(tool_name)
                return self._start_call(call_id, tool_name, spec, args, timeout_ms, session_id, window, carrier)
        spec = self._plain_call(msg)
        if spec is not None:
            return self._plain_state(spec, msg)
        return self._start_call(call_id, tool_name, self._tools.get(tool_name), args, timeout_ms, session_id, window)

    def _plain_call(self, msg: Any) -> ToolSpec | None:
        """The tool of a plain call: one message of ``CALL``'s seven fields, outside a session and not a
        stream, to a sync tool that is not a generator, with named arguments that bind as they came
        (every parameter given, or the required ones and some of the others) and hold no reference
        marker. None for anything else, which takes the general path (``_start_call``). The reader
        runs a plain call of a tool without a ``ctx`` parameter itself (``ReaderScheduler._read_loop``)."""
        if msg[0] != CALL or len(msg) != 7 or msg[5] is not None or msg[6]:
            return None
        spec = self._tools.get(msg[2])
        args = msg[3]
        if spec is None or type(args) is not dict:
            return None
        names = spec.plain_names
        if names is None:
            return None
        keys = args.keys()
        if not (keys == names or (keys <= names and spec.simple_required <= keys)):
            return None
        for value in args.values():  # not _has_marker: one call level less on every plain call
            if type(value) is dict and is_marker(value):
                return None
        return spec

    def _plain_state(self, spec: ToolSpec, msg: list[Any]) -> CallState:
        """The call of a message ``_plain_call`` accepted: only what a plain sync call uses."""
        call = new_call(CallState)
        call.id = call_id = msg[1]
        call.spec = spec
        call.kwargs = args = msg[3]
        call.cond = None
        ctx_param = spec.ctx_param
        if ctx_param is None:
            # Nothing could read a Context: none is made, and a cancel has nothing to tell.
            call.ctx = None
            return call
        call.ctx = args[ctx_param] = Context(call_id, msg[2], deadline_of(msg[4]), self)
        self._calls[call_id] = call  # dict writes are atomic: no lock needed
        return call

    def _malformed(self, msg: list[Any]) -> None:
        """A call the worker cannot read: answered with a ``protocol_error`` when it has an id."""
        call_id = msg[1] if len(msg) > 1 else None
        if type(call_id) is int:
            text = f"call message has {len(msg) - 1} fields; the protocol defines 6"
            self._send_quiet(P.error_message(call_id, error_payload("protocol_error", None, text)))

    def _start_call(
        self,
        call_id: int,
        tool_name: Any,
        spec: ToolSpec | None,
        args: Any,
        timeout_ms: Any,
        session_id: str | None,
        window: Any,
        carrier: Any = None,
    ) -> CallState | None:
        """Every call the short path of ``_on_call`` does not take: sessions, streams, async tools,
        built-in tools, arguments that need the general binding, and every error."""
        if spec is None and str(tool_name).startswith("$"):
            spec = self._builtin(tool_name)
        if spec is None:
            known = ", ".join(sorted(self._tools))
            message = f"no tool {tool_name!r}; tools: {known}"
            self._send_quiet(P.error_message(call_id, error_payload("tool_not_found", None, message)))
            return None
        ctx = Context(call_id, tool_name, deadline_of(timeout_ms), self, session_id)
        if session_id is not None:
            spec = self._session_store().wrap(spec, session_id, ctx)
        elif type(args) is dict and _has_marker(args):
            exc = InvalidRef("a reference was passed to a call outside its session")
            self._send_quiet(P.error_message(call_id, error_payload("python_error", exc)))
            return None
        if carrier is not None:
            spec = tracing.wrap(spec, carrier, call_id)
        call = CallState(call_id, spec, ctx, int(window or 0))
        if bool(call.window) != spec.is_stream:
            text = "is a generator: consume it as a stream" if spec.is_stream else "is not a generator"
            self._send_error(call.id, "not_streaming", None, f"tool {tool_name!r} {text}")
            return None
        try:
            call.kwargs = spec.bind(args if args is not None else {})
        except InvalidArguments as exc:
            self._send_error(call.id, "invalid_arguments", exc)
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

    def _finish(self, call: CallState) -> None:
        if call.ctx is not None:  # a call without a context was never registered
            self._calls.pop(call.id, None)
