"""Batch and Cache declarations, and the batch wrapper, in process."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from snakepit_bridge import Adapter, Batch, Cache, tool
from snakepit_bridge.adapter import collect_tools
from snakepit_bridge.errors import AdapterError, InvalidArguments


class Served(Adapter):
    @tool(batch=Batch(max_size=4, max_wait_ms=2))
    def double(self, items: list[dict[str, Any]]) -> list[Any]:
        return [ValueError("odd") if i["x"] % 2 else i["x"] * 2 for i in items]

    @tool(batch=Batch())
    async def adouble(self, items: list[dict[str, Any]]) -> list[Any]:
        return [i["x"] * 2 for i in items]

    @tool(cache=Cache(ttl_s=5, max_entries=10))
    def pure(self, x: int) -> int:
        return x


def test_the_catalogue_describes_batch_and_cache() -> None:
    tools = collect_tools(Served())
    assert tools["double"].describe()["batch"] == {"max_size": 4, "max_wait_ms": 2.0}
    assert tools["pure"].describe()["cache"] == {"ttl_s": 5.0, "max_entries": 10}
    assert "batch" not in tools["pure"].describe()


def test_a_batch_from_the_host_answers_one_entry_per_call_with_per_item_errors() -> None:
    fn = collect_tools(Served())["double"].fn
    out = fn(**{"$batch": [{"x": 2}, {"x": 3}]})
    assert out[0] == [0, 4]
    assert out[1][0] == 1
    assert out[1][1]["type"] == "ValueError"
    assert out[1][1]["message"] == "odd"


def test_a_direct_call_is_a_batch_of_one_and_raises_its_own_error() -> None:
    fn = collect_tools(Served())["double"].fn
    assert fn(x=4) == 8
    with pytest.raises(ValueError, match="odd"):
        fn(x=5)


def test_async_batched_tools() -> None:
    spec = collect_tools(Served())["adouble"]
    assert spec.is_async
    assert asyncio.run(spec.fn(**{"$batch": [{"x": 1}]})) == [[0, 2]]


def test_a_malformed_batch_is_invalid_arguments() -> None:
    fn = collect_tools(Served())["double"].fn
    with pytest.raises(InvalidArguments):
        fn(**{"$batch": [1, 2]})
    with pytest.raises(InvalidArguments):
        fn(**{"$batch": [{"x": 1}], "extra": 1})


def test_a_wrong_number_of_results_names_the_tool() -> None:
    class Bad(Adapter):
        @tool(batch=Batch())
        def bad(self, items: list[Any]) -> list[Any]:
            return items[:-1]

    fn = collect_tools(Bad())["bad"].fn
    with pytest.raises(TypeError, match="batched tool 'bad' must return a list of 2 results"):
        fn(**{"$batch": [{}, {}]})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Batch(max_size=0), "max_size must be a positive integer"),
        (lambda: Batch(max_wait_ms=-1), "max_wait_ms must be a number"),
        (lambda: Cache(ttl_s=-1), "ttl_s must be a number"),
        (lambda: Cache(max_entries=0), "max_entries must be a positive integer"),
        (lambda: tool(batch=5), "takes a snakepit_bridge.Batch"),  # type: ignore[call-overload]
        (lambda: tool(cache="x"), "takes a snakepit_bridge.Cache"),  # type: ignore[call-overload]
    ],
)
def test_declarations_are_checked(make: Any, message: str) -> None:
    with pytest.raises(AdapterError, match=message):
        make()


def test_a_generator_or_a_ctx_cannot_be_batched() -> None:
    class Gen(Adapter):
        @tool(batch=Batch())
        def gen(self, items: list[Any]) -> Any:
            yield from items

    with pytest.raises(AdapterError, match="a generator cannot be batched"):
        collect_tools(Gen())

    class Ctx(Adapter):
        @tool(batch=Batch())
        def two(self, items: list[Any], ctx: Any) -> list[Any]:
            return items

    with pytest.raises(AdapterError, match="exactly one parameter"):
        collect_tools(Ctx())
