"""The raw framed-pipe baseline: a bare loop that reads length-prefixed MessagePack frames on fd 3,
calls the function named in the frame and writes the reply frame on fd 4. No threads, no validation,
no pool: the floor that Snakepit's per-call overhead is measured against.

The loop runs in a thread of its own rather than the main thread: glibc's malloc serves large blocks
requested from the main thread with fresh mmap'd pages each time (page faults on every 8 MB array),
while other threads reuse their arena; tools in a Snakepit worker run on executor threads, so this
keeps the baseline from paying a cost the library does not.

``--threads N`` (diagnostic variant) hands every call to one of N executor threads through a queue and
writes the reply from that thread under a lock, which is how the Snakepit worker runs sync tools; it
shows what that hand-off costs on its own.

Messages have the shape of Snakepit's: ``[1, id, name, kwargs, ...]`` in, ``[21, id, value]`` out."""

from __future__ import annotations

import os
import queue
import struct
import sys
import threading

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import work

RFD, WFD = 3, 4
HEADER = struct.Struct(">I")
READ_SIZE = 1 << 16
FUNCS = {
    name: getattr(work, name)
    for name in (
        "add",
        "echo",
        "byte_len",
        "make_bytes",
        "array_sum",
        "make_array",
        "rss_kb",
    )
}


def write_all(data: bytes | memoryview) -> None:
    view = memoryview(data)
    while len(view):
        view = view[os.write(WFD, view) :]


WRITE_LOCK = threading.Lock()


def reply(msg: list) -> None:  # type: ignore[type-arg]
    out = msgpack.packb([21, msg[1], FUNCS[msg[2]](**msg[3])], use_bin_type=True)
    with WRITE_LOCK:
        if len(out) <= READ_SIZE:
            write_all(HEADER.pack(len(out)) + out)
        else:
            write_all(HEADER.pack(len(out)))
            write_all(out)


def executor(jobs: queue.SimpleQueue) -> None:  # type: ignore[type-arg]
    while True:
        reply(jobs.get())


def read_exact(view: memoryview) -> None:
    while len(view):
        got = os.readv(RFD, [view])
        if got == 0:
            raise EOFError
        view = view[got:]


def serve() -> None:
    handle = reply
    if len(sys.argv) > 2 and sys.argv[1] == "--threads":
        jobs: queue.SimpleQueue = queue.SimpleQueue()  # type: ignore[type-arg]
        for _ in range(int(sys.argv[2])):
            threading.Thread(target=executor, args=(jobs,), daemon=True).start()
        handle = jobs.put
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
                handle(msgpack.unpackb(buf[pos + 4 : end], raw=False))
                pos = end
                continue
            if n > READ_SIZE:
                payload = bytearray(n)
                have = size - pos - 4
                payload[:have] = buf[pos + 4 :]
                read_exact(memoryview(payload)[have:])
                handle(msgpack.unpackb(payload, raw=False))
                pos = size
            break
        buf = buf[pos:] if pos < size else b""


def main() -> None:
    loop = threading.Thread(target=serve, name="raw-loop")
    loop.start()
    loop.join()


if __name__ == "__main__":
    main()
