"""Raw baseline for bench/data.ts: a bare framed pipe, no pool, no codec.

Frames are a 4-byte big-endian length and the payload, on fd 3 (host to this process) and fd 4 (back).
A frame of 8 bytes is a request "send me n bytes" (a big-endian u64); the reply is n bytes from a
buffer prepared once. Any other frame is data: it is read into a fresh buffer, as a receiver that keeps
what it reads must, and acknowledged with an 8-byte frame holding its length.

Modes (argv[1]): "pipe" (default) as above; "shm" for the shared-memory comparison, where a request
names a file in /dev/shm: "take <path> <n>" maps a file the host wrote and touches every page,
"give <path> <n>" writes n bytes from the prepared buffer into a new file for the host to read."""

from __future__ import annotations

import ctypes
import mmap
import os
import struct
import sys
from collections.abc import Callable

import numpy as np

R, W = 3, 4
HEADER = struct.Struct(">I")
PAGE = mmap.PAGESIZE


def _uninitialised_bytearray() -> Callable[[int], bytearray]:
    """bytearray(n) without the zero fill, as snakepit_bridge.buffers allocates receive buffers."""
    try:
        sized = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t)
        make = sized(("PyByteArray_FromStringAndSize", ctypes.pythonapi))
    except (AttributeError, OSError):
        return bytearray

    def new(n: int) -> bytearray:
        buf: bytearray = make(None, n)
        return buf

    return new


new_bytearray = _uninitialised_bytearray()


def fresh(n: int) -> memoryview:
    """A new buffer for n bytes, allocated as the bridge allocates what it receives."""
    return memoryview(new_bytearray(n))


def read_exact(n: int) -> memoryview:
    buf = fresh(n)
    got = 0
    while got < n:
        k = os.readv(R, [buf[got:]])
        if k == 0:
            sys.exit(0)
        got += k
    return buf


def write_all(*parts: bytes | memoryview) -> None:
    views = [memoryview(p).cast("B") for p in parts]
    while views:
        k = os.writev(W, views)
        while k:
            if k >= views[0].nbytes:
                k -= views[0].nbytes
                views.pop(0)
            else:
                views[0] = views[0][k:]
                k = 0


def prepared(n: int, cache: dict[int, memoryview] = {}) -> memoryview:  # noqa: B006 - a cache on purpose
    if n not in cache:
        cache.clear()
        cache[n] = memoryview(np.arange(n, dtype=np.uint8))
    return cache[n]


def serve_pipe() -> None:
    while True:
        (n,) = HEADER.unpack(read_exact(4))
        data = read_exact(n)
        if n == 8:
            (size,) = struct.unpack(">Q", data)
            write_all(HEADER.pack(size), prepared(size))
        else:
            write_all(HEADER.pack(8), struct.pack(">Q", n))


def serve_shm() -> None:
    while True:
        (n,) = HEADER.unpack(read_exact(4))
        op, path, size_text = bytes(read_exact(n)).decode().split(" ")
        size = int(size_text)
        if op == "take":
            fd = os.open(path, os.O_RDONLY)
            os.unlink(path)
            mapping = mmap.mmap(fd, size, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
            os.close(fd)
            arr = np.frombuffer(mapping, dtype=np.uint8)
            int(arr[::PAGE].sum())  # map every page, as reading the data would
            del arr
            mapping.close()
        else:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
            view = prepared(size)
            done = 0
            while done < size:
                done += os.write(fd, view[done:])
            os.close(fd)
        write_all(HEADER.pack(2), b"ok")


if __name__ == "__main__":
    serve_shm() if sys.argv[1:] == ["shm"] else serve_pipe()
