"""logs.py and tracing.py in process: prints inside a call, logging records, the tool's span."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest

from snakepit_bridge import logs, tracing
from snakepit_bridge import protocol as P


class FakeSpec:
    """The parts of a ToolSpec that tracing.wrap reads."""

    is_async = False

    def __init__(self, name: str, fn: Any, is_stream: bool = False) -> None:
        self.name, self.fn, self.is_stream = name, fn, is_stream

    def with_fn(self, fn: Any) -> FakeSpec:
        return FakeSpec(self.name, fn, self.is_stream)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[list[Any]]:
    frames: list[list[Any]] = []
    monkeypatch.setattr(logs, "_send", frames.append)
    monkeypatch.setattr(logs, "_early", False)
    return frames


def test_lines_inside_a_call_become_log_frames_with_the_request_id(sent: list[list[Any]]) -> None:
    inner = io.StringIO()
    stream = logs.CallStream(inner, "stdout")
    stream.write("outside\n")
    token = logs.REQUEST.set(7)
    try:
        stream.write("one\ntw")
        stream.write("o\nthree")
        stream.flush()
    finally:
        logs.REQUEST.reset(token)
    assert inner.getvalue() == "outside\n"
    assert sent == [[P.LOG, "stdout", "one", 7], [P.LOG, "stdout", "two", 7], [P.LOG, "stdout", "three", 7]]


def test_a_partial_line_goes_out_with_its_own_request(sent: list[list[Any]]) -> None:
    stream = logs.CallStream(io.StringIO(), "stderr")
    token = logs.REQUEST.set(1)
    stream.write("half")
    logs.REQUEST.reset(token)
    token = logs.REQUEST.set(2)
    stream.write("next\n")
    logs.REQUEST.reset(token)
    assert sent == [[P.LOG, "stderr", "half", 1], [P.LOG, "stderr", "next", 2]]


def test_logging_records_are_structured(sent: list[list[Any]]) -> None:
    logger = logging.getLogger("snakepit.test")
    handler = logs._handler_class()()
    logger.addHandler(handler)
    logger.propagate = False
    token = logs.REQUEST.set(5)
    try:
        logger.warning("value %d", 3)
        try:
            raise KeyError("k")
        except KeyError:
            logger.exception("failed")
    finally:
        logs.REQUEST.reset(token)
        logger.removeHandler(handler)
    assert sent[0] == [P.LOG, "warning", "value 3", 5, "snakepit.test"]  # no exception: left out
    level, message, request, name, exc = sent[1][1:]
    assert (level, message, request, name) == ("error", "failed", 5, "snakepit.test")
    assert "Traceback" in exc and "KeyError: 'k'" in exc


def test_no_sdk_means_no_span_and_no_carrier() -> None:
    assert tracing.recording({"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01"}) is False
    assert tracing.recording(None) is False
    assert tracing.current_carrier() is None


def test_a_traced_tool_runs_in_a_child_span_of_the_carrier() -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace_id, parent_id = "a" * 32, "b" * 16
    carrier = {"traceparent": f"00-{trace_id}-{parent_id}-01"}
    api = tracing._load()
    seen: list[dict[str, str] | None] = []

    def tool(x: int) -> int:
        seen.append(tracing.current_carrier())
        return x + 1

    def gen(n: int) -> Any:
        yield from range(n)

    # A private provider stands in for the global one (set once per process and never undone).
    original = api[0].get_tracer
    api[0].get_tracer = provider.get_tracer  # type: ignore[assignment]
    try:
        inc: Any = FakeSpec("inc", tool)
        counting: Any = FakeSpec("gen", gen, True)
        assert tracing.wrap(inc, carrier, 3).fn(x=1) == 2
        assert list(tracing.wrap(counting, carrier, 4).fn(n=3)) == [0, 1, 2]
    finally:
        api[0].get_tracer = original
    spans = {s.name: s for s in exporter.get_finished_spans()}
    span = spans["snakepit.tool inc"]
    assert format(span.context.trace_id, "032x") == trace_id
    assert span.parent is not None and format(span.parent.span_id, "016x") == parent_id
    assert span.attributes is not None and span.attributes["snakepit.request_id"] == 3
    assert seen[0] is not None and seen[0]["traceparent"].split("-")[2] == format(span.context.span_id, "016x")
    assert spans["snakepit.tool gen"].attributes is not None
    assert spans["snakepit.tool gen"].attributes["snakepit.chunks"] == 3


def test_stderr_lines_go_out_at_once_even_while_the_reader_holds_its_replies(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tool that writes to stderr and then crashes: its line must already be on the pipe (it is the
    crash error's stderr tail), not held in the reader's reply batch."""
    import os

    from snakepit_bridge.frame_writer import FrameWriter

    r, w = os.pipe()
    os.set_blocking(r, False)
    writer = FrameWriter(w, 1 << 20)
    monkeypatch.setattr(logs, "_send", lambda message: writer.write(repr(message).encode()))
    monkeypatch.setattr(logs, "_flush", writer.flush)
    monkeypatch.setattr(logs, "_early", False)
    writer.hold()  # this thread is the reader, holding its replies while more requests are buffered
    writer.write(b"a held reply")
    token = logs.REQUEST.set(3)
    try:
        logs.CallStream(io.StringIO(), "stderr").write("about to crash\n")
        data = os.read(r, 65536)
    finally:
        logs.REQUEST.reset(token)
        writer.release()
        os.close(r)
        os.close(w)
    assert b"about to crash" in data
