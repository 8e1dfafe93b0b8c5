"""Length-prefixed frames on a pipe: a 4-byte big-endian length, then the encoded message."""

from __future__ import annotations

import os
import select
import struct
import threading
from collections.abc import Iterator

from .errors import FrameTooLarge

_HEADER = struct.Struct(">I")
_READ_SIZE = 1 << 16


class FrameReader:
    """Reads frames from a file descriptor. A length above ``max_payload`` is refused before any
    allocation: the caller gets ``FrameTooLarge`` and the stream is no longer usable."""

    def __init__(self, fd: int, max_payload: int) -> None:
        self._fd = fd
        self._max = max_payload
        #: Bytes read from the pipe and not yet yielded as frames.
        self.buffered = 0

    @property
    def fd(self) -> int:
        return self._fd

    def wait_readable(self, timeout: float) -> bool:
        """True when the next frame can be read without waiting longer than ``timeout`` seconds for
        the pipe (bytes already buffered count as readable)."""
        if self.buffered:
            return True
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        return bool(ready)

    def frames(self) -> Iterator[bytes | bytearray]:
        fd, max_payload = self._fd, self._max
        buf = b""
        while True:
            data = os.read(fd, _READ_SIZE)
            if not data:
                return
            buf = buf + data if buf else data
            pos, size = 0, len(buf)
            while size - pos >= 4:
                (n,) = _HEADER.unpack_from(buf, pos)
                if n > max_payload:
                    raise FrameTooLarge(n, max_payload)
                end = pos + 4 + n
                if end <= size:
                    self.buffered = size - end
                    yield buf[pos + 4 : end]
                    pos = end
                    continue
                if n > _READ_SIZE:
                    # A large frame: read its remainder straight into one buffer of the right size.
                    payload = bytearray(n)
                    have = size - pos - 4
                    payload[:have] = buf[pos + 4 :]
                    self._read_exact(memoryview(payload)[have:])
                    self.buffered = 0
                    yield payload
                    pos = size
                break
            buf = buf[pos:] if pos < size else b""

    def _read_exact(self, view: memoryview) -> None:
        fd = self._fd
        while len(view):
            got = os.readv(fd, [view])
            if got == 0:
                raise EOFError("pipe closed in the middle of a frame")
            view = view[got:]


class FrameWriter:
    """Writes whole frames; safe to call from any thread."""

    def __init__(self, fd: int, max_payload: int) -> None:
        self._fd = fd
        self._max = max_payload
        self._lock = threading.Lock()

    @property
    def max_payload(self) -> int:
        return self._max

    def write(self, payload: bytes | bytearray | memoryview) -> None:
        n = len(payload)
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        header = _HEADER.pack(n)
        with self._lock:
            if n <= _READ_SIZE:
                self._write_all(memoryview(header + payload))
            else:
                self._write_all(memoryview(header))
                self._write_all(memoryview(payload).cast("B"))

    def _write_all(self, view: memoryview) -> None:
        fd = self._fd
        while len(view):
            written = os.write(fd, view)
            view = view[written:]
