"""Helpers for tests of sessions, references and host calls on a real worker."""

from __future__ import annotations

import json
from typing import Any

from harness import FIXTURES, WorkerProcess

from snakepit_bridge import protocol as P

STATEFUL = str(FIXTURES / "stateful.py")


def start(allow: list[str] | None = None, max_refs: int = 100, concurrency: int = 2, **env: str) -> WorkerProcess:
    extra = {"SNAKEPIT_ALLOW": json.dumps(allow or []), "SNAKEPIT_MAX_REFS": str(max_refs), **env}
    extra["PYTHONPATH"] = f"{extra.get('PYTHONPATH', '')}:{FIXTURES}".strip(":")
    w = WorkerProcess(STATEFUL, env=extra, concurrency=concurrency)
    w.handshake()
    return w


def call(
    w: WorkerProcess,
    call_id: int,
    tool: str,
    args: dict[str, Any],
    session: str | None = None,
    timeout_ms: int | None = None,
) -> Any:
    """Send a call and return its reply, skipping log messages."""
    w.send([P.CALL, call_id, tool, args, timeout_ms, session, 0])
    return recv(w)


def recv(w: WorkerProcess) -> Any:
    while True:
        msg = w.recv()
        if msg[0] != P.LOG:
            return msg


def ok(reply: Any) -> Any:
    assert reply[0] == P.RESULT, reply
    return reply[2]


def err(reply: Any) -> dict[str, Any]:
    assert reply[0] == P.ERROR, reply
    return dict(reply[2])
