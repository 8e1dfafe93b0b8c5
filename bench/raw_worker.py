"""The raw framed-pipe baseline: a bare loop that reads length-prefixed MessagePack frames on fd 3,
calls the function named in the frame and writes the reply frame on fd 4. No threads, no validation,
no pool: the floor that Snakepit's per-call overhead is measured against.

Messages have the shape of Snakepit's: ``[1, id, name, kwargs, ...]`` in, ``[21, id, value]`` out."""

from __future__ import annotations

import os
import struct
import sys

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import work

RFD, WFD = 3, 4
HEADER = struct.Struct(">I")
READ_SIZE = 1 << 16
FUNCS = {name: getattr(work, name) for name in ("add", "echo", "byte_len", "make_bytes", "array_sum", "make_array", "rss_kb")}


def write_all(data: bytes | memoryview) -> None:
    view = memoryview(data)
    while len(view):
        view = view[os.write(WFD, view) :]


def reply(msg: list) -> None:  # type: ignore[type-arg]
    out = msgpack.packb([21, msg[1], FUNCS[msg[2]](**msg[3])], use_bin_type=True)
    if len(out) <= READ_SIZE:
        write_all(HEADER.pack(len(out)) + out)
    else:
        write_all(HEADER.pack(len(out)))
        write_all(out)


def read_exact(view: memoryview) -> None:
    while len(view):
        got = os.readv(RFD, [view])
        if got == 0:
            raise EOFError
        view = view[got:]


def main() -> None:
    buf = b""
    while True:
        data = os.read(RFD, READ_SIZE)
        if not data:
            return
        buf = buf + data if buf else data
        pos, size = 0, len(buf)
        while size - pos >= 4:
            (n,) = HEADER.unpack_from(buf, pos)
            end = pos + 4 + n
            if end <= size:
                reply(msgpack.unpackb(buf[pos + 4 : end], raw=False))
                pos = end
                continue
            if n > READ_SIZE:
                payload = bytearray(n)
                have = size - pos - 4
                payload[:have] = buf[pos + 4 :]
                read_exact(memoryview(payload)[have:])
                reply(msgpack.unpackb(payload, raw=False))
                pos = size
            break
        buf = buf[pos:] if pos < size else b""


if __name__ == "__main__":
    main()
