"""Python calling the host: host_call / host_result on a real worker, from sync and async tools."""

from __future__ import annotations

from session_harness import err, ok, recv, start

from snakepit_bridge import protocol as P


def _host_call(w: object, call_id: int, tool: str, args: dict[str, object], timeout_ms: int | None = None) -> list:
    w.send([P.CALL, call_id, tool, args, timeout_ms, None, 0])  # type: ignore[attr-defined]
    msg = recv(w)  # type: ignore[arg-type]
    assert msg[0] == P.HOST_CALL, msg
    return list(msg)


def test_a_sync_tool_calls_the_host_and_gets_its_value() -> None:
    w = start()
    try:
        _, host_id, parent, tool, args = _host_call(w, 7, "ask_host", {"name": "double", "x": 21})
        assert (parent, tool, args) == (7, "double", {"x": 21})
        w.send([P.HOST_RESULT, host_id, True, 42])
        assert ok(recv(w)) == {"ok": 42}
    finally:
        w.close()


def test_a_failing_host_tool_raises_host_tool_error_with_its_code() -> None:
    w = start()
    try:
        _, host_id, *_ = _host_call(w, 1, "ask_host", {"name": "broken", "x": 1})
        w.send([P.HOST_RESULT, host_id, False, {"code": "INVALID_ARGUMENTS", "message": "x must be even"}])
        assert ok(recv(w)) == {"code": "INVALID_ARGUMENTS", "message": "x must be even"}
    finally:
        w.close()


def test_an_async_tool_awaits_the_host_and_an_uncaught_error_reaches_the_host() -> None:
    w = start()
    try:
        _, host_id, parent, tool, _ = _host_call(w, 3, "aask_host", {"name": "double", "x": 2})
        assert (parent, tool) == (3, "double")
        w.send([P.HOST_RESULT, host_id, True, 4])
        assert ok(recv(w)) == 4
        _, host_id, *_ = _host_call(w, 4, "aask_host", {"name": "nope", "x": 2})
        w.send([P.HOST_RESULT, host_id, False, {"code": "TOOL_NOT_FOUND", "message": "no host tool nope"}])
        e = err(recv(w))
        assert e["type"] == "HostToolError"
        assert "TOOL_NOT_FOUND: no host tool nope" in e["message"]
    finally:
        w.close()


def test_cancel_wakes_a_tool_waiting_on_the_host() -> None:
    w = start()
    try:
        _host_call(w, 5, "ask_host", {"name": "slow", "x": 1})
        w.send([P.CANCEL, 5])
        assert err(recv(w))["kind"] == "cancelled"
        _host_call(w, 6, "aask_host", {"name": "slow", "x": 1})
        w.send([P.CANCEL, 6])
        assert err(recv(w))["kind"] == "cancelled"
    finally:
        w.close()


def test_the_deadline_bounds_the_wait() -> None:
    w = start()
    try:
        _host_call(w, 8, "ask_host", {"name": "slow", "x": 1}, timeout_ms=150)
        reply = ok(recv(w))
        assert reply["code"] == "TIMEOUT"
    finally:
        w.close()


def test_a_late_result_for_a_finished_call_is_ignored() -> None:
    w = start()
    try:
        _, host_id, *_ = _host_call(w, 9, "ask_host", {"name": "slow", "x": 1})
        w.send([P.CANCEL, 9])
        err(recv(w))
        w.send([P.HOST_RESULT, host_id, True, 1])
        w.send([P.HOST_RESULT, 12345, True, 1])
        w.send([P.CALL, 10, "pid", {}, None, None, 0])
        assert ok(recv(w)) > 0
    finally:
        w.close()


def test_host_tools_lists_through_a_host_call() -> None:
    w = start()
    try:
        _, host_id, _, tool, args = _host_call(w, 11, "list_host", {})
        assert (tool, args) == ("$host.tools", {})
        w.send([P.HOST_RESULT, host_id, True, [{"name": "double", "description": "", "parameters": {}}]])
        assert ok(recv(w)) == [{"name": "double", "description": "", "parameters": {}}]
    finally:
        w.close()
