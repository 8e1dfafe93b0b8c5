"""The work every benchmark contender runs: the same plain functions, imported by the Snakepit adapter
(adapter.py), the raw framed-pipe worker (raw_worker.py) and the peers' drivers."""

from __future__ import annotations

import base64
import os
from typing import Any


def add(a: int, b: int) -> int:
    return a + b


def echo(value: Any) -> Any:
    return value


def byte_len(data: bytes) -> int:
    """Receive bytes; answer their length (host to worker transfer)."""
    return len(data)


def make_bytes(n: int) -> bytes:
    """Produce ``n`` bytes (worker to host transfer)."""
    return _payload(n)


def array_sum(data: bytes) -> float:
    """Receive a float64 array as its raw little-endian bytes; view it with NumPy and sum it."""
    import numpy as np

    return float(np.frombuffer(data, dtype="<f8").sum())


def make_array(n: int) -> bytes:
    """Produce a float64 array of ``n`` elements and send its raw bytes (no per-element encoding)."""
    return _array(n).tobytes()


def rss_kb() -> int:
    """Resident set size of this process in KiB (Linux)."""
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


_cache: dict[tuple[str, int], Any] = {}


def _payload(n: int) -> bytes:
    key = ("bytes", n)
    if key not in _cache:
        _cache[key] = bytes(i & 0xFF for i in range(n)) if n <= 4096 else os.urandom(n)
    return _cache[key]  # type: ignore[no-any-return]


def _array(n: int) -> Any:
    import numpy as np

    key = ("array", n)
    if key not in _cache:
        _cache[key] = np.arange(n, dtype="<f8")
    return _cache[key]


# Variants for bridges that carry only text (JSON): bytes travel as base64 strings.


def byte_len_b64(data: str) -> int:
    return len(base64.b64decode(data))


def make_bytes_b64(n: int) -> str:
    return base64.b64encode(_payload(n)).decode("ascii")


def array_sum_b64(data: str) -> float:
    import numpy as np

    return float(np.frombuffer(base64.b64decode(data), dtype="<f8").sum())


def make_array_b64(n: int) -> str:
    return base64.b64encode(_array(n).tobytes()).decode("ascii")
