"""Bench adapter for bench/data.ts: receive bulk data, or send a prepared value of a given size."""

from __future__ import annotations

from typing import Any

import numpy as np
from snakepit_bridge import tool

_prepared: dict[tuple[str, int], Any] = {}


@tool
def consume(data: Any) -> int:
    """Size in bytes of what arrived (bytes or ndarray)."""
    return int(data.nbytes) if isinstance(data, np.ndarray) else len(data)


@tool
def prepare(kind: str, n: int) -> int:
    """Build the value `produce` returns (outside the timed calls): n bytes or n float64."""
    _prepared.clear()
    value = bytes(range(256)) * (n // 256) + bytes(n % 256) if kind == "bytes" else np.arange(n, dtype=np.float64)
    _prepared[(kind, n)] = value
    return len(value) if kind == "bytes" else int(value.nbytes)


@tool
def produce(kind: str, n: int) -> Any:
    return _prepared[(kind, n)]


@tool
def release() -> None:
    _prepared.clear()
