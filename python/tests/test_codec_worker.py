"""Bulk data through a real worker process on pipes, speaking the protocol as the Node host does."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from harness import FIXTURES, WorkerProcess

from snakepit_bridge import protocol as P
from snakepit_bridge.codecs import make_codec
from snakepit_bridge.frame_reader import FrameReader
from snakepit_bridge.frame_writer import FrameWriter

MAX_PAYLOAD = 64 << 20


class Host:
    """The host side of one worker: frames written and read with the bridge's own framing."""

    def __init__(self, codec: str) -> None:
        self.worker = WorkerProcess(str(FIXTURES / "bulk.py"), codecs=codec, max_payload=MAX_PAYLOAD)
        hello = self.worker.handshake()
        assert hello["codec"] == codec
        self.codec = make_codec(codec)
        self.writer = FrameWriter(self.worker._w, MAX_PAYLOAD)
        self.frames = FrameReader(self.worker._r, MAX_PAYLOAD).frames()
        self.next_id = 1

    def call(self, tool: str, **args: Any) -> Any:
        call_id = self.next_id
        self.next_id += 1
        self.writer.write(self.codec.encode([P.CALL, call_id, tool, args, None, None, 0]))
        reply = self.codec.decode(next(self.frames))
        assert reply[1] == call_id
        return reply


@pytest.fixture(params=["msgpack", "json"])
def host(request: pytest.FixtureRequest) -> Iterator[Host]:
    h = Host(request.param)
    yield h
    assert h.worker.close() == 0


def test_large_bytes_both_ways(host: Host) -> None:
    data = bytes(range(256)) * (12 << 12)
    kind, _, info = host.call("nbytes", data=data)
    assert kind == P.RESULT and info == {"type": "bytes", "nbytes": len(data), "sum": sum(data[:1000])}
    kind, _, back = host.call("blob", n=len(data))
    assert kind == P.RESULT and back == data


def test_large_arrays_both_ways(host: Host) -> None:
    arr = np.arange(1_000_000, dtype="<f8")
    kind, _, info = host.call("nbytes", data=arr)
    assert kind == P.RESULT and info["nbytes"] == arr.nbytes and info["sum"] == float(arr.sum())
    kind, _, ones = host.call("ones", n=1_000_000)
    assert kind == P.RESULT and ones.shape == (1_000_000,) and ones.sum() == 1_000_000


def test_a_result_over_the_maximum_payload_is_a_typed_error(host: Host) -> None:
    kind, _, err = host.call("blob", n=MAX_PAYLOAD + 256)
    assert kind == P.ERROR and err["kind"] == "payload_too_large"
    kind, _, value = host.call("echo", value=[1, {2, 3}])
    assert kind == P.RESULT and value == [1, {2, 3}]
