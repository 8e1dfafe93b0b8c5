"""JSON baseline for bench/tables.ts: what python-shell or pythonia need to move a table, on a bare
framed pipe (fd 3 in, fd 4 out; frames are a 4-byte big-endian length and the payload).

Requests (text): "prepare <rows>" builds the records of bench/tables_adapter.make_table; "json" replies
with json.dumps of the records; "raw <n>" replies with n prepared bytes (the raw-bytes baseline);
any other frame is JSON records (or raw bytes when it starts with b"\\0"), parsed and acknowledged."""

from __future__ import annotations

import json
import os
import struct
import sys

import numpy as np

from data_raw import read_exact, write_all
from tables_adapter import make_table

HEADER = struct.Struct(">I")


def main() -> None:
    records: list[dict[str, object]] = []
    blob = memoryview(b"")
    while True:
        (n,) = HEADER.unpack(read_exact(4))
        data = read_exact(n)
        head = bytes(data[:16])
        if head.startswith(b"prepare "):
            rows = int(bytes(data).decode().split()[1])
            table = make_table(rows)
            records = table.to_pylist()
            for r in records:
                r["t"] = int(r["t"].timestamp() * 1e6)
            write_all(HEADER.pack(2), b"ok")
        elif head == b"json":
            text = json.dumps(records).encode()
            write_all(HEADER.pack(len(text)), text)
        elif head.startswith(b"raw "):
            size = int(bytes(data).decode().split()[1])
            if blob.nbytes != size:
                blob = memoryview(np.arange(size, dtype=np.uint8))
            write_all(HEADER.pack(size), blob)
        elif head[:1] == b"\0":
            write_all(HEADER.pack(8), struct.pack(">Q", n))
        else:
            count = len(json.loads(bytes(data)))
            write_all(HEADER.pack(8), struct.pack(">Q", count))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
