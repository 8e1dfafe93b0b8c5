"""The Snakepit adapter of the benchmarks: the functions of work.py exposed as tools."""

from __future__ import annotations

from typing import Any

from snakepit_bridge import tool

import work


@tool
def add(a: int, b: int) -> int:
    return work.add(a, b)


@tool
def echo(value: Any) -> Any:
    return work.echo(value)


@tool
def byte_len(data: bytes) -> int:
    return work.byte_len(data)


@tool
def make_bytes(n: int) -> bytes:
    return work.make_bytes(n)


@tool
def array_sum(data: bytes) -> float:
    return work.array_sum(data)


@tool
def make_array(n: int) -> bytes:
    return work.make_array(n)


@tool
def rss_kb() -> int:
    return work.rss_kb()
