"""Sessions on a real worker: state per session, setup and teardown hooks, session_end."""

from __future__ import annotations

from harness import WorkerProcess
from session_harness import call, err, ok, recv, start

from snakepit_bridge import protocol as P


def _stderr(w: WorkerProcess) -> str:
    assert w.proc.stderr is not None
    try:
        import os

        os.close(w._w)
    except OSError:
        pass
    w.proc.wait(10)
    return w.proc.stderr.read().decode()


def test_state_lives_per_session_and_setup_runs_once() -> None:
    w = start()
    try:
        assert ok(call(w, 1, "put", {"key": "k", "value": 41}, session="a")) is None
        assert ok(call(w, 2, "get", {"key": "k"}, session="a")) == 41
        assert ok(call(w, 3, "aget", {"key": "k"}, session="a")) == 41, "async tools see the same state"
        assert ok(call(w, 4, "get", {"key": "k"}, session="b")) is None, "sessions do not share state"
        assert ok(call(w, 5, "get", {"key": "setups"}, session="a")) == 1
        assert ok(call(w, 6, "get", {"key": "setups"}, session="b")) == 1
    finally:
        w.close()


def test_session_end_frees_state_and_runs_teardown() -> None:
    w = start()
    ok(call(w, 1, "put", {"key": "k", "value": "v"}, session="s1"))
    w.send([P.SESSION_END, "s1"])
    assert ok(call(w, 2, "get", {"key": "k"}, session="s1")) is None, "a new session starts empty"
    w.send([P.SESSION_END, "unknown"])  # ignored
    assert ok(call(w, 3, "pid", {})) > 0
    # The ended session is torn down off the reader thread; a graceful stop waits for that, where EOF
    # (the host died) would not.
    w.send([P.SHUTDOWN])
    text = _stderr(w)
    w.close()
    assert "teardown_session s1 ['k', 'setups']" in text
    assert text.count("setup_session s1") == 2


def test_live_sessions_are_torn_down_when_the_worker_stops() -> None:
    w = start()
    ok(call(w, 1, "put", {"key": "x", "value": 1}, session="live"))
    # A graceful stop, as the host's close() does. (EOF alone means the host died: no teardown.)
    w.send([P.SHUTDOWN])
    text = _stderr(w)
    w.close()
    assert "teardown_session live ['setups', 'x']" in text


def test_ctx_session_outside_a_session_is_a_clear_error() -> None:
    w = start()
    try:
        e = err(call(w, 1, "get", {"key": "k"}))
        assert e["kind"] == "python_error"
        assert "not called in a session" in e["message"]
    finally:
        w.close()


def test_setup_session_failure_fails_the_call_and_is_retried() -> None:
    w = start()
    try:
        e = err(call(w, 1, "put", {"key": "k", "value": 1}, session="fail-1"))
        assert e["kind"] == "python_error"
        assert "setup of fail-1 failed once" in e["message"]
        ok(call(w, 2, "put", {"key": "k", "value": 1}, session="fail-1"))
        assert ok(call(w, 3, "get", {"key": "setups"}, session="fail-1")) == 1
    finally:
        w.close()


def test_concurrent_first_calls_of_a_session_run_setup_once() -> None:
    w = start(concurrency=4)
    try:
        for i in range(4):
            w.send([P.CALL, 10 + i, "get", {"key": "setups"}, None, "many", 0])
        replies = [recv(w) for _ in range(4)]
        assert sorted(ok(r) for r in replies) == [1, 1, 1, 1]
    finally:
        w.close()
