"""Length-prefixed frames on a pipe: a 4-byte big-endian length, then the encoded message.

A frame is written from one buffer or from several parts (``FrameParts``: the message, then large
binary values as attachments), without copying the parts. A length above the maximum is refused
before anything is allocated for it, on both ends."""

from __future__ import annotations

import mmap
import os
import struct
import threading
from collections.abc import Iterator, Sequence

from .errors import FrameTooLarge

_HEADER = struct.Struct(">I")
_READ_SIZE = 1 << 16
#: Frames of at least this size are read into an anonymous mapping that may use huge pages: on
#: Linux this cuts the page faults of filling a fresh buffer by a factor of up to 512.
_MAPPED_FRAME = 2 << 20
_IOV_MAX = 512

Buffer = bytes | bytearray | memoryview


class TruncatedFrame(EOFError):
    """The pipe closed in the middle of a frame."""

    def __init__(self, received: int, expected: int | None) -> None:
        what = f"a frame of {expected} bytes" if expected is not None else "a frame header"
        super().__init__(f"the pipe closed in the middle of {what} ({received} bytes received)")
        self.received = received
        self.expected = expected


class FrameParts:
    """A payload made of several buffers written back to back; ``size`` is their total length."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: Sequence[Buffer], size: int) -> None:
        self.parts = parts
        self.size = size

    def __len__(self) -> int:
        return self.size

    def tobytes(self) -> bytes:
        return b"".join(bytes(p) for p in self.parts)


def allocate(n: int) -> memoryview:
    """A writable buffer of ``n`` bytes to receive a frame into."""
    if n >= _MAPPED_FRAME and hasattr(mmap, "MAP_PRIVATE") and hasattr(mmap, "MAP_ANONYMOUS"):
        try:
            mapping = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        except OSError:
            return memoryview(bytearray(n))
        advice = getattr(mmap, "MADV_HUGEPAGE", None)
        if advice is not None:
            try:
                mapping.madvise(advice)
            except OSError:
                pass
        return memoryview(mapping)
    return memoryview(bytearray(n))


class FrameReader:
    """Reads frames from a file descriptor. A length above ``max_payload`` is refused before any
    allocation: the caller gets ``FrameTooLarge`` and the stream is no longer usable. A pipe that
    closes in the middle of a frame raises ``TruncatedFrame``."""

    def __init__(self, fd: int, max_payload: int) -> None:
        self._fd = fd
        self._max = max_payload

    def frames(self) -> Iterator[bytes | memoryview]:
        fd, max_payload = self._fd, self._max
        buf = b""
        while True:
            data = os.read(fd, _READ_SIZE)
            if not data:
                if buf:
                    expected = _HEADER.unpack_from(buf)[0] if len(buf) >= 4 else None
                    raise TruncatedFrame(len(buf), expected)
                return
            buf = buf + data if buf else data
            pos, size = 0, len(buf)
            while size - pos >= 4:
                (n,) = _HEADER.unpack_from(buf, pos)
                if n > max_payload:
                    raise FrameTooLarge(n, max_payload)
                end = pos + 4 + n
                if end <= size:
                    yield buf[pos + 4 : end]
                    pos = end
                    continue
                if n > _READ_SIZE:
                    # A large frame: read its remainder straight into one buffer of the right size.
                    payload = allocate(n)
                    have = size - pos - 4
                    payload[:have] = buf[pos + 4 :]
                    self._read_exact(payload[have:], n)
                    yield payload
                    pos = size
                break
            buf = buf[pos:] if pos < size else b""

    def _read_exact(self, view: memoryview, expected: int) -> None:
        fd = self._fd
        while len(view):
            got = os.readv(fd, [view])
            if got == 0:
                raise TruncatedFrame(expected - len(view), expected)
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

    def write(self, payload: Buffer | FrameParts) -> None:
        if isinstance(payload, FrameParts):
            n = payload.size
            if n > self._max:
                raise FrameTooLarge(n, self._max)
            views = [memoryview(_HEADER.pack(n))]
            views += [memoryview(p).cast("B") for p in payload.parts]
            with self._lock:
                self._write_parts(views)
            return
        n = len(payload) if not isinstance(payload, memoryview) else payload.nbytes
        if n > self._max:
            raise FrameTooLarge(n, self._max)
        header = _HEADER.pack(n)
        with self._lock:
            if n <= _READ_SIZE:
                self._write_all(memoryview(header + payload))
            else:
                self._write_parts([memoryview(header), memoryview(payload).cast("B")])

    def _write_all(self, view: memoryview) -> None:
        fd = self._fd
        while len(view):
            written = os.write(fd, view)
            view = view[written:]

    def _write_parts(self, views: list[memoryview]) -> None:
        fd = self._fd
        views = [v for v in views if v.nbytes]
        first = 0
        while first < len(views):
            written = os.writev(fd, views[first : first + _IOV_MAX])
            while written:
                head = views[first]
                if written >= head.nbytes:
                    written -= head.nbytes
                    first += 1
                else:
                    views[first] = head[written:]
                    written = 0
