"""The stream benchmark's tool: the same chunks as stream_raw.py, from a generator."""

from collections.abc import Iterator

from snakepit_bridge import tool


@tool
def count(n: int) -> Iterator[int]:
    yield from range(n)
