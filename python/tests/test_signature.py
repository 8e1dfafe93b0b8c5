"""The signature reader agrees with ``inspect`` on every kind of callable a tool can be."""

from __future__ import annotations

import asyncio
import functools
import inspect
import types
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from snakepit_bridge.signature import (
    EMPTY,
    annotation_text,
    clean_doc,
    is_async_function,
    is_awaitable,
    is_generator_function,
    read_signature,
)


def plain(a: int, b: str = "x", *, flag: bool = False) -> str:
    """One line."""
    return f"{a}{b}{flag}"


def every_kind(p, /, q: int, r=3, *args: int, k, m: float = 1.5, **kw: str):  # type: ignore[no-untyped-def]
    """First line.

        Indented more.
    Back.
    """


def no_annotations(x, y=None):  # type: ignore[no-untyped-def]
    pass


async def coro(a: int) -> int:
    return a


def gen(n: int) -> Iterator[int]:
    yield n


async def agen(n: int) -> AsyncIterator[int]:
    yield n


def decorated(fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def inner(*args: Any, **kwargs: Any) -> Any:
        return fn(*args, **kwargs)

    return inner


class Thing:
    def method(self, a: int, *, b: int = 2) -> int:
        """Method doc."""
        return a + b

    def only_args(*args: Any) -> None:  # noqa: N805 - a method whose first parameter is *args
        pass

    @staticmethod
    def static(a: int) -> int:
        return a

    @classmethod
    def klass(cls, a: int) -> int:
        return a

    def __call__(self, z: int) -> int:
        return z


class Child(Thing):
    def method(self, a: int, *, b: int = 2) -> int:
        return a


def _from_inspect(fn: Callable[..., Any]) -> tuple[list[tuple[str, str, Any, Any]], Any]:
    def value(x: Any) -> Any:
        return EMPTY if x is inspect.Parameter.empty else x

    sig = inspect.signature(fn)
    params = [(p.name, p.kind.name.lower(), value(p.default), value(p.annotation)) for p in sig.parameters.values()]
    return params, value(sig.return_annotation)


CALLABLES: list[Callable[..., Any]] = [
    plain,
    every_kind,
    no_annotations,
    coro,
    gen,
    agen,
    decorated(plain),
    decorated(gen),
    functools.partial(plain, 1),
    Thing().method,
    Thing().only_args,
    Thing.static,
    Thing.klass,
    Thing(),
    Child().method,
    lambda a, b=2: a,
]


@pytest.mark.parametrize("fn", CALLABLES, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_parameters_match_inspect(fn: Callable[..., Any]) -> None:
    params, returns = read_signature(fn)
    assert ([(p.name, p.kind, p.default, p.annotation) for p in params], returns) == _from_inspect(fn)


@pytest.mark.parametrize("fn", CALLABLES, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_kinds_and_docs_match_inspect(fn: Callable[..., Any]) -> None:
    raw = inspect.unwrap(fn)
    assert is_generator_function(fn) == (inspect.isgeneratorfunction(raw) or inspect.isasyncgenfunction(raw))
    assert is_async_function(fn) == (inspect.iscoroutinefunction(raw) or inspect.isasyncgenfunction(raw))
    if isinstance(fn, (types.FunctionType, types.MethodType)):
        assert clean_doc(fn) == (inspect.getdoc(fn) or "")


def test_doc_of_an_overriding_method_without_one_is_the_overridden_one() -> None:
    assert clean_doc(Child().method) == "Method doc."


def test_awaitables_match_inspect() -> None:
    c = coro(1)
    loop = asyncio.new_event_loop()
    try:
        fut = loop.create_future()

        def old_style() -> Iterator[None]:
            yield None

        values: list[Any] = [c, fut, gen(1), 1, None, "x", types.coroutine(old_style)()]
        for value in values:
            assert is_awaitable(value) == inspect.isawaitable(value), value
    finally:
        c.close()
        loop.close()


def test_annotation_text_writes_a_parameterised_generic_out() -> None:
    # Python 3.10 says list[str] is an instance of type: its name alone would lose the item type.
    assert annotation_text(list[str]) == "list[str]"
    assert annotation_text(dict[str, list[int]]) == "dict[str, list[int]]"
    assert annotation_text(int) == "int"
    assert annotation_text("Frame") == "Frame"
