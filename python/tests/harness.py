"""Starts a real worker process on two pipes and speaks the protocol to it, as the Node host does."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from snakepit_bridge import protocol as P
from snakepit_bridge.codecs import make_codec
from snakepit_bridge.json_codec import JsonCodec

PYTHON_DIR = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: Adapters shared with the TypeScript tests (one copy for both suites).
SHARED_FIXTURES = Path(__file__).resolve().parents[2] / "test" / "fixtures"


class WorkerProcess:
    def __init__(
        self,
        adapter: str,
        codecs: str = "msgpack,json",
        env: dict[str, str] | None = None,
        concurrency: int = 1,
        max_payload: int = 1 << 20,
    ) -> None:
        to_worker_r, self._w = os.pipe()
        self._r, from_worker_w = os.pipe()
        full_env = dict(os.environ)
        full_env.update(
            {
                "PYTHONPATH": str(PYTHON_DIR),
                "SNAKEPIT_RFD": str(to_worker_r),
                "SNAKEPIT_WFD": str(from_worker_w),
                "SNAKEPIT_CODECS": codecs,
                "SNAKEPIT_CONCURRENCY": str(concurrency),
                "SNAKEPIT_MAX_PAYLOAD": str(max_payload),
                "SNAKEPIT_HOST_PID": str(os.getpid()),
            }
        )
        full_env.update(env or {})
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "snakepit_bridge", "--adapter", adapter],
            env=full_env,
            pass_fds=(to_worker_r, from_worker_w),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._buf = b""
        self.codec: Any = JsonCodec()
        self.hello: Any = None

    def handshake(self, ping: int | None = 7) -> dict[str, Any]:
        """Read ``hello``. With ``ping`` (the default), first write the handshake's ping in JSON, as the
        host does as soon as it is connected, and read its answer, which must follow ``hello``."""
        if ping is not None:
            self.send(P.ping_message(ping))  # the codec is JSON until hello
        msg = self.recv()
        assert msg[0] == P.HELLO, msg
        self.hello = msg[1]
        self.codec = make_codec(self.hello["codec"])
        if ping is not None:
            assert self.recv() == [P.PONG, ping]
        return dict(self.hello)

    def send_raw(self, data: bytes) -> None:
        os.write(self._w, data)

    def send(self, msg: list[Any]) -> None:
        payload = self.codec.encode(msg)
        self.send_raw(struct.pack(">I", len(payload)) + payload)

    def recv_frame(self) -> bytes | None:
        while True:
            if len(self._buf) >= 4:
                (n,) = struct.unpack(">I", self._buf[:4])
                if len(self._buf) >= 4 + n:
                    frame, self._buf = self._buf[4 : 4 + n], self._buf[4 + n :]
                    return frame
            data = os.read(self._r, 1 << 16)
            if not data:
                return None
            self._buf += data

    def recv(self) -> Any:
        frame = self.recv_frame()
        assert frame is not None, "worker closed its pipe"
        return self.codec.decode(frame)

    def call(self, call_id: int, tool: str, args: dict[str, Any], window: int = 0) -> Any:
        self.send([P.CALL, call_id, tool, args, None, None, window])
        return self.recv()

    def close(self, timeout: float = 10) -> int:
        try:
            os.close(self._w)
        except OSError:
            pass
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            os.close(self._r)
            assert self.proc.stdout is not None and self.proc.stderr is not None
            self.proc.stdout.close()
            self.proc.stderr.close()
        return code
