"""OpenTelemetry in the worker, used only when the host sends a trace context and the
``opentelemetry-api`` package is installed (imported at the first traced call, never at start).

A traced call's tool runs inside a span ``snakepit.tool <name>`` (kind SERVER) whose parent is the
host's call span, so spans the tool makes itself (an HTTP client, a database driver) join the
host's trace. A host tool called from inside carries the current span's context back
(``current_carrier``), so the host continues the same trace. Streams get one span with the number
of chunks. Spans are exported by whatever SDK the adapter configured (for example in ``setup()``);
without one, the API's no-op tracer makes this nearly free."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .adapter import ToolSpec

#: None until tried; False when opentelemetry-api is missing; else (trace, context, propagator).
_api: Any = None


#: Tracer providers of the API alone (no SDK configured in this process).
_NO_SDK = frozenset({"ProxyTracerProvider", "NoOpTracerProvider"})


def _load() -> Any:
    global _api
    if _api is None:
        try:
            from opentelemetry import context, trace
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
        except ImportError:
            _api = False
        else:
            _api = (trace, context, TraceContextTextMapPropagator())
    return _api


def wrap(spec: ToolSpec, carrier: Any, request_id: int) -> ToolSpec:
    """``spec`` with its function run inside a span whose parent is described by ``carrier``
    (``{"traceparent": ..., "tracestate": ...}``); ``spec`` itself without opentelemetry-api."""
    api = _load()
    if not api or type(carrier) is not dict:
        return spec
    return spec.with_fn(_traced(api, spec, carrier, request_id))


def recording(carrier: Any) -> bool:
    """Whether a call with this trace context runs in a span here: opentelemetry-api is installed
    and an SDK is configured (without one a span would record nothing, so the call takes the plain
    path). Host callbacks still join the trace through the host's call span."""
    if type(carrier) is not dict:
        return False
    api = _load()
    return bool(api) and type(api[0].get_tracer_provider()).__name__ not in _NO_SDK


def current_carrier() -> dict[str, str] | None:
    """The W3C trace context of the span current here, for a host call; None when nothing traces."""
    api = _api
    if not api or "opentelemetry" not in sys.modules:
        return None
    trace, _context, propagator = api
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagator.inject(carrier)
    return carrier or None


def _traced(api: Any, spec: ToolSpec, carrier: dict[str, Any], request_id: int) -> Callable[..., Any]:
    trace, context, propagator = api
    fn = spec.fn
    name = f"snakepit.tool {spec.name}"
    parent = propagator.extract({k: v for k, v in carrier.items() if type(v) is str})
    attributes = {"rpc.system": "snakepit", "rpc.method": spec.name, "snakepit.request_id": request_id}
    tracer = trace.get_tracer("snakepit_bridge")
    kind = trace.SpanKind.SERVER

    def start() -> Any:
        return tracer.start_span(name, context=parent, kind=kind, attributes=attributes)

    def fail(span: Any, exc: BaseException) -> None:
        span.record_exception(exc)
        span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    if spec.is_stream and spec.is_async:

        async def agen(*args: Any, **kwargs: Any) -> Any:
            span = start()
            chunks = 0
            token = context.attach(trace.set_span_in_context(span, parent))
            try:
                inner = fn(*args, **kwargs)
                try:
                    async for item in inner:
                        chunks += 1
                        yield item
                finally:
                    await inner.aclose()
            except BaseException as exc:
                fail(span, exc)
                raise
            finally:
                context.detach(token)
                span.set_attribute("snakepit.chunks", chunks)
                span.end()

        return agen
    if spec.is_async:

        async def coro(*args: Any, **kwargs: Any) -> Any:
            span = start()
            token = context.attach(trace.set_span_in_context(span, parent))
            try:
                return await fn(*args, **kwargs)
            except BaseException as exc:
                fail(span, exc)
                raise
            finally:
                context.detach(token)
                span.end()

        return coro
    if spec.is_stream:

        def gen(*args: Any, **kwargs: Any) -> Any:
            # The context is attached around each step only: the thread runs other code between steps.
            span = start()
            current = trace.set_span_in_context(span, parent)
            chunks = 0
            token = context.attach(current)
            try:
                inner = fn(*args, **kwargs)
            finally:
                context.detach(token)
            try:
                while True:
                    token = context.attach(current)
                    try:
                        item = next(inner)
                    except StopIteration:
                        return
                    finally:
                        context.detach(token)
                    chunks += 1
                    yield item
            except GeneratorExit:
                raise  # the consumer left early: not a failure of the tool
            except BaseException as exc:
                fail(span, exc)
                raise
            finally:
                inner.close()
                span.set_attribute("snakepit.chunks", chunks)
                span.end()

        return gen

    def call(*args: Any, **kwargs: Any) -> Any:
        span = start()
        token = context.attach(trace.set_span_in_context(span, parent))
        try:
            return fn(*args, **kwargs)
        except BaseException as exc:
            fail(span, exc)
            raise
        finally:
            context.detach(token)
            span.end()

    return call
