"""Worker output that reaches the host: Python ``logging`` records and prints made inside a call.

- ``REQUEST`` holds the id of the call whose code runs (a ``ContextVar``: per thread, per asyncio
  task), set by the worker around each tool.
- A handler on the root logger (installed when ``logging`` is first imported) sends every record as a ``log`` frame:
  ``[log, level, message, request, logger, exception]``.
- ``sys.stdout`` and ``sys.stderr`` are wrapped: a line written while a call runs travels as a ``log``
  frame with level ``stdout`` or ``stderr`` and the call's request id; anything else (import, setup,
  background threads) goes to the real stream, made line buffered so that nothing waits in a buffer
  when the process ends.

Before ``hello`` the frames are written in the handshake's JSON; after it, with the chosen codec."""

from __future__ import annotations

import contextvars
import os
import sys
import threading

from . import protocol as P

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TextIO

#: The request id of the call whose code runs here, or None outside a call.
REQUEST: contextvars.ContextVar[int | None] = contextvars.ContextVar("snakepit_request", default=None)

_send: Callable[[list[Any]], None] | None = None
#: Writes the frames the frame writer holds (a reply batch of the reader thread). Lines on stderr, and
#: any explicit ``flush()``, go out at once: a tool that prints and then crashes must not take its last
#: words down with it (they are the stderr tail of the crash error).
_flush: Callable[[], None] | None = None
#: True until ``hello`` is written: frames are JSON, sent under ``_switch`` so that none can be
#: written after ``hello`` in the handshake's codec.
_early = True
_switch = threading.Lock()


def after_hello(
    write_hello: Callable[[], None], send: Callable[[list[Any]], None], flush: Callable[[], None] | None = None
) -> None:
    """Write ``hello``, then send log frames through the worker's codec (``send``)."""
    global _send, _early, _flush
    with _switch:
        write_hello()
        _send = send
        _flush = flush
        _early = False


def _push() -> None:
    """Write held frames now (see ``_flush``); never raises into the caller."""
    if _flush is not None:
        try:
            _flush()
        except Exception:  # noqa: BLE001
            pass


def send_log(level: str, message: str, request: int | None, logger: str | None = None, exc: str | None = None) -> None:
    """Send a ``log`` frame; a line that cannot be sent is dropped, never raised into the caller."""
    frame = P.log_message(level, message, request, logger, exc)
    try:
        if _early:
            with _switch:
                if _send is not None:
                    _send(frame)
        elif _send is not None:
            _send(frame)
    except Exception:  # noqa: BLE001
        pass


class CallStream:
    """``sys.stdout`` / ``sys.stderr``: lines written inside a call go to the host as log frames
    tagged with the call's request id; everything else goes to the real stream."""

    def __init__(self, inner: TextIO, name: str) -> None:
        self._inner = inner
        self._name = name
        self._local = threading.local()

    def write(self, text: str) -> int:
        request = REQUEST.get()
        if request is None:
            return self._inner.write(text)
        local = self._local
        pending: str = getattr(local, "pending", "")
        if pending and getattr(local, "request", None) != request:
            send_log(self._name, pending, local.request)
            pending = ""
        local.request = request
        pending += text
        if "\n" in pending:
            *lines, pending = pending.split("\n")
            for line in lines:
                send_log(self._name, line, request)
            if self._name == "stderr":
                _push()
        local.pending = pending
        return len(text)

    def flush(self) -> None:
        local = self._local
        pending = getattr(local, "pending", "")
        if pending:
            local.pending = ""
            send_log(self._name, pending, local.request)
        _push()
        self._inner.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _handler_class() -> type:
    import logging

    class HostHandler(logging.Handler):
        """Sends each record to the host as a structured ``log`` frame."""

        _formatter = logging.Formatter()

        def emit(self, record: logging.LogRecord) -> None:
            try:
                exc = None
                if record.exc_info:
                    exc = self._formatter.formatException(record.exc_info)
                elif record.exc_text:
                    exc = record.exc_text
                if record.stack_info:
                    exc = (exc + "\n" if exc else "") + record.stack_info
                send_log(record.levelname.lower(), record.getMessage(), REQUEST.get(), record.name, exc)
            except Exception:  # noqa: BLE001
                self.handleError(record)

    return HostHandler


def _install_handler(logging: Any) -> None:
    """Send every record of the root logger to the host, from ``SNAKEPIT_LOG_LEVEL`` (default INFO) up."""
    root = logging.getLogger()
    root.addHandler(_handler_class()())
    level = (os.environ.get("SNAKEPIT_LOG_LEVEL") or "INFO").upper()
    root.setLevel(level if isinstance(logging.getLevelName(level), int) else "INFO")


class _LoggingHook:
    """Installs the handler when ``logging`` is first imported: importing it at every worker's start
    would cost several milliseconds that most adapters never use."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "logging":
            return None
        sys.meta_path.remove(self)
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        spec.loader = _HookedLoader(spec.loader)  # type: ignore[assignment]
        return spec


class _HookedLoader:
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def create_module(self, spec: Any) -> Any:
        return self._inner.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._inner.exec_module(module)
        _install_handler(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def install(send_early: Callable[[list[Any]], None]) -> None:
    """Wrap stdout and stderr, and send logging records to the host once ``logging`` is imported
    (called once, at the worker's start; ``send_early`` writes a frame before ``hello``)."""
    global _send
    _send = send_early
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(line_buffering=True)
            except (ValueError, OSError):
                pass
        setattr(sys, name, CallStream(stream, name))
    logging = sys.modules.get("logging")
    if logging is not None:
        _install_handler(logging)
    else:
        sys.meta_path.insert(0, _LoggingHook())
