"""The worker process, driven over its real pipes by the test harness."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import SHARED_FIXTURES, WorkerProcess

from snakepit_bridge import protocol as P
from snakepit_bridge import scheduler as worker_module

BASIC = str(SHARED_FIXTURES / "basic.py")


@pytest.fixture(params=["msgpack", "json"])
def worker(request: pytest.FixtureRequest) -> Iterator[WorkerProcess]:
    w = WorkerProcess(BASIC, codecs=request.param, concurrency=2)
    hello = w.handshake()
    assert hello["codec"] == request.param
    yield w
    assert w.close() == 0


def test_hello_describes_the_worker_and_its_tools(worker: WorkerProcess) -> None:
    hello = worker.hello
    assert hello["protocol"] == P.VERSION
    assert hello["pid"] == worker.proc.pid
    tools = {t["name"]: t for t in hello["tools"]}
    assert tools["add"]["doc"] == "Add two integers."
    assert tools["add"]["params"] == [
        {"name": "a", "type": "int", "required": True, "kind": "positional_or_keyword"},
        {"name": "b", "type": "int", "required": False, "kind": "positional_or_keyword", "default": 2},
    ]
    assert tools["aadd"]["async"] is True
    assert tools["count"]["stream"] is True and tools["acount"]["stream"] is True
    assert [p["name"] for p in tools["sleep"]["params"]] == ["seconds"]


def test_calls_results_and_errors(worker: WorkerProcess) -> None:
    assert worker.call(1, "add", {"a": 1, "b": 2}) == [P.RESULT, 1, 3]
    assert worker.call(2, "aadd", {"a": 1, "b": 2}) == [P.RESULT, 2, 3]
    assert worker.call(3, "echo", {"value": b"\x00\xff"}) == [P.RESULT, 3, b"\x00\xff"]
    code, call_id, err = worker.call(4, "boom", {"message": "bad"})
    assert (code, call_id, err["kind"], err["type"], err["message"]) == (
        P.ERROR,
        4,
        "python_error",
        "ValueError",
        "bad",
    )
    assert "Traceback" in err["traceback"]
    code, _, err = worker.call(5, "add", {"a": 1, "zzz": 2})
    assert err["kind"] == "invalid_arguments" and "'zzz'" in err["message"]
    _, _, err = worker.call(6, "missing_tool", {})
    assert err["kind"] == "tool_not_found" and "add" in err["message"]
    _, _, err = worker.call(7, "unencodable", {})
    assert err["kind"] == "encode_error" and "object" in err["message"]
    _, _, err = worker.call(8, "count", {"n": 2})
    assert err["kind"] == "not_streaming"


def test_ping_is_answered_while_a_sync_tool_runs(worker: WorkerProcess) -> None:
    worker.send([P.CALL, 1, "sleep", {"seconds": 0.5}, None, None, 0])
    time.sleep(0.1)
    worker.send([P.PING, 42])
    # The order proves it: the pong arrives while the tool still sleeps, before its result.
    assert worker.recv() == [P.PONG, 42]
    assert worker.recv() == [P.RESULT, 1, False]


@pytest.mark.parametrize("codecs", ["msgpack", "json"])
def test_a_worker_serves_when_its_first_frame_is_not_the_handshake_ping(codecs: str) -> None:
    # The host writes the handshake's ping first; a peer that sends a call first is served all the same.
    w = WorkerProcess(BASIC, codecs=codecs)
    w.handshake(ping=None)
    assert w.call(1, "add", {"a": 1, "b": 2}) == [P.RESULT, 1, 3]
    w.send([P.PING, 3])
    assert w.recv() == [P.PONG, 3]
    assert w.close() == 0


def test_a_worker_whose_host_goes_before_its_first_frame_exits() -> None:
    w = WorkerProcess(BASIC)
    w.handshake(ping=None)
    assert w.close() == 0  # EOF before any frame: the input ended (the harness leads the group)


def test_a_first_frame_in_json_that_is_not_a_ping_breaks_a_msgpack_worker() -> None:
    w = WorkerProcess(BASIC, codecs="msgpack")
    payload = b'[1,1,"add",{"a":1,"b":2},null,null,0]'
    w.send_raw(struct.pack(">I", len(payload)) + payload)
    w.handshake(ping=None)
    assert w.codec.name == "msgpack"
    assert w.recv_frame() is None  # nothing run, nothing answered
    assert w.proc.wait(10) == 3  # a protocol failure, said on stderr
    assert w.proc.stderr is not None and b"snakepit worker:" in w.proc.stderr.read()
    w.close()


def test_cancel_reaches_sync_and_async_tools(worker: WorkerProcess) -> None:
    worker.send([P.CALL, 1, "sleep", {"seconds": 30}, None, None, 0])
    worker.send([P.CALL, 2, "asleep", {"seconds": 30}, None, None, 0])
    time.sleep(0.1)
    worker.send([P.CANCEL, 1])
    worker.send([P.CANCEL, 2])
    replies = {worker.recv()[1]: None for _ in range(2)}
    assert set(replies) == {1, 2}


def test_stream_respects_credit_and_closes_on_cancel(worker: WorkerProcess) -> None:
    worker.send([P.CALL, 1, "count", {"n": 100}, None, None, 2])
    assert worker.recv() == [P.CHUNK, 1, 0]
    assert worker.recv() == [P.CHUNK, 1, 1]
    # No credit left: the next message must be the answer to this ping, not a chunk.
    worker.send([P.PING, 5])
    assert worker.recv() == [P.PONG, 5]
    worker.send([P.CREDIT, 1, 1])
    assert worker.recv() == [P.CHUNK, 1, 2]
    worker.send([P.CANCEL, 1])
    code, call_id, err = worker.recv()
    assert (code, call_id, err["kind"]) == (P.ERROR, 1, "cancelled")


def test_async_stream_ends_with_end(worker: WorkerProcess) -> None:
    worker.send([P.CALL, 1, "acount", {"n": 2}, None, None, 8])
    assert [worker.recv() for _ in range(3)] == [[P.CHUNK, 1, 0], [P.CHUNK, 1, 1], [P.END, 1]]


def test_an_unencodable_chunk_ends_the_stream_and_closes_the_generator(tmp_path: Path) -> None:
    marker = tmp_path / "closed"
    adapter = tmp_path / "bad_chunks.py"
    adapter.write_text(
        "from snakepit_bridge import tool\n"
        "@tool\n"
        "def chunks():\n"
        "    try:\n"
        "        yield 1\n"
        "        yield object()\n"
        "        yield 2\n"
        "    finally:\n"
        f"        open({str(marker)!r}, 'w').write('closed')\n"
    )
    w = WorkerProcess(str(adapter))
    w.handshake()
    w.send([P.CALL, 1, "chunks", {}, None, None, 8])
    assert w.recv() == [P.CHUNK, 1, 1]
    code, call_id, err = w.recv()
    assert (code, call_id, err["kind"]) == (P.ERROR, 1, "encode_error")
    assert "yielded a value the worker cannot send: cannot encode a value of Python type" in err["message"]
    assert w.call(2, "chunks", {}, window=1) == [P.CHUNK, 2, 1], "the worker goes on"
    # The error goes out before the generator is closed, on the generator's own thread: its finally
    # may still be running here. Wait for it (bounded: a generator that is never closed fails).
    deadline = time.monotonic() + 10
    while (not marker.exists() or marker.read_text() != "closed") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert marker.read_text() == "closed"
    assert w.close() == 0


def test_a_generator_that_blocks_after_a_long_wait_for_credit_does_not_stop_the_reading(tmp_path: Path) -> None:
    # A sync generator reads its credit itself on the reader thread. While it waits, no tool code runs
    # and the watchdog goes to sleep; when the generator then blocks, the watchdog must be awake to move
    # the reader role, or the ping below would go unanswered until the generator gives up.
    go = tmp_path / "go"
    adapter = tmp_path / "blocking_gen.py"
    adapter.write_text(
        "import os, time\n"
        "from snakepit_bridge import tool\n"
        "@tool\n"
        "def gen(path: str):\n"
        "    yield 'first'\n"
        "    deadline = time.monotonic() + 60\n"
        "    while not os.path.exists(path):\n"
        "        if time.monotonic() > deadline:\n"
        "            yield 'gave up'\n"
        "            return\n"
        "        time.sleep(0.01)\n"
        "    yield 'second'\n"
    )
    w = WorkerProcess(str(adapter))
    w.handshake()
    w.send([P.CALL, 1, "gen", {"path": str(go)}, None, None, 1])
    assert w.recv() == [P.CHUNK, 1, "first"]
    time.sleep(worker_module.WATCH_LINGER_SECONDS + 0.5)  # the watchdog goes to sleep meanwhile
    w.send([P.CREDIT, 1, 1])  # the generator resumes and blocks
    w.send([P.PING, 9])
    assert w.recv() == [P.PONG, 9]
    go.touch()
    assert w.recv() == [P.CHUNK, 1, "second"]
    w.send([P.CREDIT, 1, 1])
    assert w.recv() == [P.END, 1]
    assert w.close() == 0


def test_oversized_result_becomes_an_error_and_the_worker_goes_on() -> None:
    w = WorkerProcess(str(SHARED_FIXTURES / "misbehave.py"), max_payload=4096)
    w.handshake()
    _, _, err = w.call(1, "big", {"n": 10_000})
    assert err["kind"] == "payload_too_large"
    assert err["limit"] == 4096 and err["size"] > 10_000  # the fields the host reads
    assert w.call(2, "big", {"n": 10}) == [P.RESULT, 2, b"x" * 10]
    assert w.close() == 0


def test_exits_when_the_host_closes_the_pipe() -> None:
    w = WorkerProcess(BASIC)
    w.handshake()
    assert w.close(timeout=5) == 0  # close() fails if the worker has not exited within 5 s


def test_shutdown_message_runs_teardown_and_exits_zero(tmp_path: Path) -> None:
    marker = tmp_path / "teardown"
    adapter = tmp_path / "with_teardown.py"
    adapter.write_text(
        "from snakepit_bridge import Adapter, tool\n"
        "class T(Adapter):\n"
        f"    def teardown(self):\n        open({str(marker)!r}, 'w').write('done')\n"
        "    @tool\n    def one(self) -> int:\n        return 1\n"
    )
    w = WorkerProcess(str(adapter))
    w.handshake()
    w.send([P.SHUTDOWN])
    assert w.proc.wait(10) == 0
    assert marker.read_text() == "done"
    w.close()


@pytest.mark.parametrize(
    ("adapter", "phase", "text"),
    [
        ("syntax_error.py", "import", "SyntaxError"),
        ("setup_fails.py", "setup", "database unreachable"),
        ("no_tools.py", "import", "defines no @tool functions"),
    ],
)
def test_startup_failures_send_fatal_with_traceback(adapter: str, phase: str, text: str) -> None:
    w = WorkerProcess(str(SHARED_FIXTURES / adapter))
    msg = w.recv()
    assert msg[0] == P.FATAL
    assert msg[1]["phase"] == phase
    assert text in msg[1]["message"] or text in msg[1]["traceback"]
    assert w.close() == 1


def test_a_call_missing_fields_gets_a_protocol_error_and_extra_fields_are_ignored(worker: WorkerProcess) -> None:
    worker.send([P.CALL, 9, "add"])
    kind, call_id, err = worker.recv()
    assert (kind, call_id, err["kind"]) == (P.ERROR, 9, "protocol_error")
    assert "call message has 2 fields" in err["message"]
    # A field a newer host appends (after stream_window) is ignored.
    worker.send([*P.call_message(10, "add", {"a": 1, "b": 2}, None, None, 0), "appended"])
    assert worker.recv() == [P.RESULT, 10, 3]


def test_a_misnamed_argument_is_named_with_a_suggestion(worker: WorkerProcess) -> None:
    _, _, err = worker.call(1, "echo", {"valeu": 2})
    assert err["kind"] == "invalid_arguments"
    assert "got an unexpected keyword argument 'valeu' (did you mean 'value'?)" in err["message"]
    assert "missing a required argument: 'value'" in err["message"]
    _, _, err = worker.call(3, "add", {"a": 1, "bb": 2})  # b has a default: a misspelling all the same
    assert err["message"] == "tool 'add': got an unexpected keyword argument 'bb' (did you mean 'b'?)"
    _, _, err = worker.call(2, "add", {"a": 1, "b": 2, "zzz": 3})
    assert err["message"].endswith("got an unexpected keyword argument 'zzz'")


def test_plain_calls_that_the_reader_runs_itself_keep_every_rule_of_a_call(tmp_path: Path) -> None:
    # A sync tool without ctx, called outside a session with arguments that bind as they came, runs
    # on the reader without a call object (scheduler._read_loop). Each case here takes that path.
    adapter = tmp_path / "plain.py"
    adapter.write_text(
        "from snakepit_bridge import Cancelled, tool\n"
        "@tool\n"
        "def add(a: int, b: int = 2) -> int:\n"
        "    print('adding', a, b)\n"
        "    return a + b\n"
        "@tool\n"
        "def word(n: int) -> str:\n"
        "    return 'x' * n\n"
        "@tool\n"
        "def stop() -> None:\n"
        "    raise Cancelled('given up')\n"
        "@tool\n"
        "def shape(value: dict) -> list:\n"
        "    return sorted(value)\n"
    )
    w = WorkerProcess(str(adapter), max_payload=4096)
    w.handshake()
    # A print made by the tool carries the call's request id; a parameter with a default may be left out.
    w.send([P.CALL, 1, "add", {"a": 1}, None, None, 0])
    assert w.recv() == [P.LOG, "stdout", "adding 1 2", 1]
    assert w.recv() == [P.RESULT, 1, 3]
    assert w.call(2, "word", {"n": 3}) == [P.RESULT, 2, "xxx"]
    code, _, err = w.call(3, "word", {"n": 5000})  # past the payload limit: an error, not a broken frame
    assert (code, err["kind"]) == (P.ERROR, "payload_too_large")
    code, _, err = w.call(4, "stop", {})
    assert (code, err["kind"], err["message"]) == (P.ERROR, "cancelled", "cancelled")
    # A dict shaped like a reference marker is refused outside a session, as on the general path.
    marker = {"$ref": 1, "session": "s", "type": "T"}
    code, _, err = w.call(5, "shape", {"value": marker})
    assert (code, err["kind"]) == (P.ERROR, "invalid_ref") and "outside its session" in err["message"]
    assert w.call(6, "shape", {"value": {"b": 1, "a": 2}}) == [P.RESULT, 6, ["a", "b"]]
    assert w.close() == 0
