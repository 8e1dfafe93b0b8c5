"""Serving declarations on tools: dynamic batching (``Batch``) and result caching (``Cache``).

``@tool(batch=Batch(max_size=64, max_wait_ms=5))`` marks a tool whose function takes a list with one
entry per call (that call's keyword arguments, as a dict) and returns a list of results of the same
length, in the same order. An entry of the returned list that is an exception instance fails only
that call. The host collects concurrent calls into one batch (docs/serving.md).

On the wire a batched tool takes either the keyword arguments of one call (a batch of one, so
sessions, the CLI and direct calls work unchanged) or ``{"$batch": [kwargs, ...]}`` from the host's
batcher, answered with ``[[0, result] | [1, error], ...]``.

``@tool(cache=Cache(ttl_s=60, max_entries=1000))`` declares a tool pure: the host may answer a call
with the result of an earlier call with equal arguments, without a round trip.
"""

from __future__ import annotations

from .errors import AdapterError, InvalidArguments, error_payload

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

#: The keyword argument that carries a batch from the host.
BATCH_KEY = "$batch"


class Batch:
    """Dynamic batching of a tool: at most ``max_size`` calls per batch; the host waits at most
    ``max_wait_ms`` after the first call of a batch while every worker is busy."""

    __slots__ = ("max_size", "max_wait_ms")

    def __init__(self, max_size: int = 64, max_wait_ms: float = 5.0) -> None:
        if type(max_size) is not int or max_size < 1:
            raise AdapterError(f"Batch max_size must be a positive integer, got {max_size!r}")
        if not isinstance(max_wait_ms, (int, float)) or isinstance(max_wait_ms, bool) or not 0 <= max_wait_ms <= 60_000:
            raise AdapterError(f"Batch max_wait_ms must be a number from 0 to 60000, got {max_wait_ms!r}")
        self.max_size = max_size
        self.max_wait_ms = float(max_wait_ms)

    def describe(self) -> dict[str, Any]:
        return {"max_size": self.max_size, "max_wait_ms": self.max_wait_ms}


class Cache:
    """Result caching on the host for a pure tool: entries live ``ttl_s`` seconds (0: until evicted),
    at most ``max_entries`` of them (least recently used evicted first)."""

    __slots__ = ("ttl_s", "max_entries")

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 1000) -> None:
        if not isinstance(ttl_s, (int, float)) or isinstance(ttl_s, bool) or not 0 <= ttl_s <= 31_536_000:
            raise AdapterError(f"Cache ttl_s must be a number of seconds from 0 to 31536000, got {ttl_s!r}")
        if type(max_entries) is not int or max_entries < 1:
            raise AdapterError(f"Cache max_entries must be a positive integer, got {max_entries!r}")
        self.ttl_s = float(ttl_s)
        self.max_entries = max_entries

    def describe(self) -> dict[str, Any]:
        return {"ttl_s": self.ttl_s, "max_entries": self.max_entries}


def _check_results(name: str, results: Any, count: int) -> list[Any]:
    if not isinstance(results, (list, tuple)) or len(results) != count:
        got = (
            f"a {type(results).__name__} of {len(results)}"
            if isinstance(results, (list, tuple))
            else type(results).__name__
        )
        raise TypeError(f"batched tool {name!r} must return a list of {count} results (one per call), got {got}")
    return list(results)


def _pack(results: list[Any]) -> list[list[Any]]:
    return [[1, error_payload("python_error", r)] if isinstance(r, BaseException) else [0, r] for r in results]


def _one(results: list[Any]) -> Any:
    first = results[0]
    if isinstance(first, BaseException):
        raise first
    return first


def batch_wrapper(name: str, fn: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """The function the worker calls for a batched tool: ``fn`` takes the list of calls."""
    if is_async:

        async def run_async(**kwargs: Any) -> Any:
            items = kwargs.pop(BATCH_KEY, None)
            if items is None:
                return _one(_check_results(name, await fn([kwargs]), 1))
            _check_items(name, items, kwargs)
            return _pack(_check_results(name, await fn(items), len(items)))

        return run_async

    def run(**kwargs: Any) -> Any:
        items = kwargs.pop(BATCH_KEY, None)
        if items is None:
            return _one(_check_results(name, fn([kwargs]), 1))
        _check_items(name, items, kwargs)
        return _pack(_check_results(name, fn(items), len(items)))

    return run


def _check_items(name: str, items: Any, rest: dict[str, Any]) -> None:
    if rest or not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidArguments(f"batched tool {name!r}: {BATCH_KEY} must be the only argument, a list of objects")
