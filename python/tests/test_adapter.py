"""Adapter loading and tool metadata, in process."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import SHARED_FIXTURES

from snakepit_bridge import Adapter, Context, tool
from snakepit_bridge.adapter import ToolSpec, collect_tools, load_adapter
from snakepit_bridge.errors import AdapterError, InvalidArguments


class Example(Adapter):
    @tool
    def plain(self, a: int, b: str = "x", *, flag: bool = False) -> str:
        """Doc line."""
        return f"{a}{b}{flag}"

    @tool(name="renamed", description="Custom description.")
    def original(self, ctx: Context, items: list[int]) -> int:
        return sum(items)

    def helper(self) -> None:
        pass


def test_collects_only_marked_methods_with_names_and_docs() -> None:
    tools = collect_tools(Example())
    assert sorted(tools) == ["plain", "renamed"]
    assert tools["plain"].describe()["doc"] == "Doc line."
    renamed = tools["renamed"].describe()
    assert renamed["doc"] == "Custom description."
    assert [p["name"] for p in renamed["params"]] == ["items"]
    assert tools["renamed"].ctx_param == "ctx"
    assert renamed["params"][0]["type"] == "list[int]"


def test_keyword_only_and_defaults_are_described() -> None:
    params = {p["name"]: p for p in collect_tools(Example())["plain"].describe()["params"]}
    assert params["flag"] == {
        "name": "flag",
        "type": "bool",
        "required": False,
        "kind": "keyword_only",
        "default": False,
    }


def test_bind_names_the_bad_argument() -> None:
    spec: ToolSpec = collect_tools(Example())["plain"]
    assert spec.bind({"a": 1}) == {"a": 1}
    with pytest.raises(InvalidArguments, match="'a'"):
        spec.bind({})
    with pytest.raises(InvalidArguments, match="'zzz'"):
        spec.bind({"a": 1, "zzz": 2})
    with pytest.raises(InvalidArguments, match="keyword arguments"):
        spec.bind([1])  # type: ignore[arg-type]


def test_load_from_path_module_and_attribute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _, tools = load_adapter(str(SHARED_FIXTURES / "basic.py"))
    assert "add" in tools
    _, tools = load_adapter(str(SHARED_FIXTURES / "basic.py") + ":Basic")
    assert "add" in tools
    (tmp_path / "pkgmod.py").write_text("from snakepit_bridge import tool\n@tool\ndef f() -> int:\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    target, tools = load_adapter("pkgmod")
    assert list(tools) == ["f"]


def test_load_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(AdapterError, match="not found"):
        load_adapter(str(tmp_path / "missing.py"))
    with pytest.raises(AdapterError, match="no attribute 'Nope'"):
        load_adapter(str(SHARED_FIXTURES / "basic.py") + ":Nope")
    two = tmp_path / "two.py"
    two.write_text(
        "from snakepit_bridge import Adapter, tool\n"
        "class A(Adapter):\n    @tool\n    def x(self) -> int:\n        return 1\n"
        "class B(Adapter):\n    @tool\n    def y(self) -> int:\n        return 2\n"
    )
    with pytest.raises(AdapterError, match=r"several Adapter classes \(A, B\)"):
        load_adapter(str(two))
    dup = tmp_path / "dup.py"
    dup.write_text(
        "from snakepit_bridge import tool\n"
        "@tool(name='same')\ndef a() -> int:\n    return 1\n"
        "@tool(name='same')\ndef b() -> int:\n    return 2\n"
    )
    with pytest.raises(AdapterError, match="two tools are named 'same'"):
        load_adapter(str(dup))


def test_tool_marks_refuse_what_the_host_could_not_call() -> None:
    with pytest.raises(AdapterError, match="name= takes a string, got int"):
        tool(name=42)  # type: ignore[call-overload]
    with pytest.raises(AdapterError, match="name= must not be empty"):
        tool(name="")
    with pytest.raises(AdapterError, match=r"names starting with \$ are the worker's built-in tools"):
        tool(name="$python.call")
    with pytest.raises(AdapterError, match="has a control character"):
        tool(name="a\nb")
    with pytest.raises(AdapterError, match="description= takes a string, got list"):
        tool(description=["x"])  # type: ignore[call-overload]
    with pytest.raises(AdapterError, match="Thing is a class: mark a function or method that makes its objects"):

        @tool
        class Thing:
            pass

    with pytest.raises(AdapterError, match="got int"):
        tool(5)  # type: ignore[call-overload]
    for kind in (classmethod, staticmethod):
        with pytest.raises(AdapterError, match=f"put @tool below @{kind.__name__}"):
            tool(kind(lambda *a: 1))  # type: ignore[call-overload]
    assert tool(name="spaces are fine")(lambda: 1).__snakepit_tool__.name == "spaces are fine"  # type: ignore[attr-defined]


def test_ctx_may_come_first_in_any_signature() -> None:
    class CtxFirst(Adapter):
        @tool
        def f(self, ctx: Context, a: int, *, b: int = 2, **extra: int) -> int:
            return a + b + sum(extra.values())

    spec = collect_tools(CtxFirst())["f"]
    assert spec.simple_names is None  # **extra: the general binding path
    kwargs = spec.bind({"a": 1, "c": 10})
    assert spec.fn(**kwargs, ctx=None) == 13
