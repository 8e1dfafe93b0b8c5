"""The fork server's zygote: its control channel, thread detection, forking a worker that connects
back and reaping it."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from harness import FIXTURES, PYTHON_DIR

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the fork server needs fork and /proc")

HEADER = struct.Struct(">I")


class Zygote:
    """A zygote started as the host starts it: control frames on fd 3 (to it) and fd 4 (from it)."""

    def __init__(self, adapter: str, preload: str = "", **env: str) -> None:
        to_r, self.to_w = os.pipe()
        self.from_r, from_w = os.pipe()
        full = dict(os.environ)
        full.update(
            PYTHONPATH=f"{PYTHON_DIR}{os.pathsep}{FIXTURES}",
            SNAKEPIT_HOST_PID=str(os.getpid()),
            SNAKEPIT_ZYGOTE_PRELOAD=preload,
            SNAKEPIT_LIFELINE_PDEATHSIG="0",
            OPENBLAS_NUM_THREADS="1",
            SNAKEPIT_ZYGOTE_RFD=str(to_r),
            SNAKEPIT_ZYGOTE_WFD=str(from_w),
            **env,
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "snakepit_bridge.zygote", "--adapter", adapter],
            env=full,
            pass_fds=(to_r, from_w),
            stderr=subprocess.PIPE,
        )
        os.close(to_r)
        os.close(from_w)
        self.buf = b""

    def send(self, msg: dict[str, object]) -> None:
        data = json.dumps(msg).encode()
        os.write(self.to_w, HEADER.pack(len(data)) + data)

    def recv(self) -> dict[str, object]:
        while True:
            if len(self.buf) >= 4:
                (n,) = HEADER.unpack_from(self.buf)
                if len(self.buf) >= 4 + n:
                    msg = json.loads(self.buf[4 : 4 + n])
                    self.buf = self.buf[4 + n :]
                    return msg  # type: ignore[no-any-return]
            data = os.read(self.from_r, 65536)
            if not data:
                raise EOFError("zygote closed its channel")
            self.buf += data

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stderr is not None
        self.proc.stderr.close()
        for fd in (self.to_w, self.from_r):
            os.close(fd)


def test_thread_detection_names_no_thread_in_a_fresh_process() -> None:
    code = textwrap.dedent(
        """
        import threading, time
        from snakepit_bridge.threads import thread_problem
        assert thread_problem("nothing") is None
        threading.Thread(target=time.sleep, args=(5,), name="sleeper", daemon=True).start()
        print(thread_problem("importing 'x'"))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(PYTHON_DIR)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "importing 'x' started threads" in out.stdout
    assert "sleeper" in out.stdout


def test_a_preloaded_module_that_starts_a_thread_is_fatal() -> None:
    z = Zygote(str(FIXTURES / "stateful.py"), preload="json,threading_at_import")
    try:
        msg = z.recv()
        assert msg["ev"] == "fatal"
        assert msg["phase"] == "threads"
        assert msg["module"] == "threading_at_import"
        assert z.proc.wait(10) == 1
    finally:
        z.close()


def test_forks_a_worker_that_connects_back_and_reports_its_exit(tmp_path: Path) -> None:
    z = Zygote(str(FIXTURES / "stateful.py"), preload="decimal")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = str(tmp_path / "w.sock")
    server.bind(path)
    server.listen(1)
    try:
        ready = z.recv()
        assert ready["ev"] == "ready"
        assert ready["preloaded"] == ["decimal"]
        token = "ab" * 32
        env = {"SNAKEPIT_CONNECT": path, "SNAKEPIT_TOKEN": token, "SNAKEPIT_HOST_PID": str(os.getpid())}
        z.send({"op": "fork", "id": 7, "env": env})
        forked = z.recv()
        assert forked["ev"] == "forked" and forked["id"] == 7
        pid = int(forked["pid"])  # type: ignore[call-overload]
        conn, _ = server.accept()
        conn.settimeout(10)
        head = conn.recv(4, socket.MSG_WAITALL)
        assert conn.recv(HEADER.unpack(head)[0], socket.MSG_WAITALL).decode() == token
        n = HEADER.unpack(conn.recv(4, socket.MSG_WAITALL))[0]
        hello = json.loads(conn.recv(n, socket.MSG_WAITALL))
        assert hello[1]["pid"] == pid
        assert os.getpgid(pid) == pid, "the worker leads its own process group"
        os.kill(pid, signal.SIGKILL)
        while True:
            msg = z.recv()
            if msg["ev"] == "exit":
                break
        assert msg == {"ev": "exit", "pid": pid, "id": 7, "code": None, "signal": signal.SIGKILL}
        conn.close()
    finally:
        server.close()
        z.close()


def test_output_of_a_worker_whose_zygote_died_is_dropped_not_raised() -> None:
    from snakepit_bridge.zygote import _DropOnBrokenPipe

    r, w = os.pipe()
    os.close(r)  # nobody reads any more: writes get EPIPE
    raw = open(w, "w", buffering=1, closefd=True)  # noqa: SIM115
    stream = _DropOnBrokenPipe(raw)
    try:
        assert stream.write("a line nobody reads\n") == len("a line nobody reads\n")
        stream.flush()
    finally:
        try:
            raw.close()
        except BrokenPipeError:
            pass
