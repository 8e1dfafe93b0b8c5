"""Raw framed-pipe baseline for streams: answers ``[1, id, "count", {"n": n}, ...]`` with n chunk frames
``[23, id, i]`` and an end frame ``[24, id]``, written one frame per chunk as a generator would, with no
flow control, threads or pool."""

from __future__ import annotations

import os
import struct

import msgpack

RFD, WFD = 3, 4
HEADER = struct.Struct(">I")


def write_all(data: bytes) -> None:
    view = memoryview(data)
    while len(view):
        view = view[os.write(WFD, view) :]


def main() -> None:
    buf = b""
    while True:
        data = os.read(RFD, 1 << 16)
        if not data:
            return
        buf += data
        while len(buf) >= 4:
            (n,) = HEADER.unpack_from(buf)
            if len(buf) < 4 + n:
                break
            msg = msgpack.unpackb(buf[4 : 4 + n], raw=False)
            buf = buf[4 + n :]
            call_id = msg[1]
            for i in range(msg[3]["n"]):
                body = msgpack.packb([23, call_id, i])
                write_all(HEADER.pack(len(body)) + body)
            body = msgpack.packb([24, call_id])
            write_all(HEADER.pack(len(body)) + body)


if __name__ == "__main__":
    main()
