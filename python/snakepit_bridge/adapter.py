"""The adapter and tool API: ``@tool``, ``Adapter``, and loading an adapter from a path or module."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from .errors import AdapterError, InvalidArguments

F = TypeVar("F", bound=Callable[..., Any])

_TOOL_ATTR = "__snakepit_tool__"


@dataclass(frozen=True)
class _ToolMark:
    name: str | None
    description: str | None


@typing.overload
def tool(fn: F, /) -> F: ...
@typing.overload
def tool(*, name: str | None = None, description: str | None = None) -> Callable[[F], F]: ...


def tool(fn: F | None = None, /, *, name: str | None = None, description: str | None = None) -> F | Callable[[F], F]:
    """Mark a function or method as a tool the host can call.

    ``@tool`` or ``@tool(name="other", description="...")``. Plain functions, ``async def``,
    generators and async generators (streaming tools) are all accepted."""

    def mark(f: F) -> F:
        setattr(f, _TOOL_ATTR, _ToolMark(name, description))
        return f

    return mark(fn) if fn is not None else mark


class Adapter:
    """Base class for adapters. Override ``setup`` / ``teardown`` (sync or async) as needed."""

    def setup(self) -> Any:
        return None

    def teardown(self) -> Any:
        return None


def _annotation_text(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")


def _is_context_param(param: inspect.Parameter) -> bool:
    ann = param.annotation
    if param.name == "ctx":
        return True
    if isinstance(ann, str):
        return ann.rsplit(".", 1)[-1] == "Context"
    return getattr(ann, "__name__", None) == "Context" and getattr(ann, "__module__", "").startswith("snakepit_bridge")


_PLAIN_DEFAULTS = (type(None), bool, int, float, str)


@dataclass
class ToolSpec:
    name: str
    fn: Callable[..., Any]
    signature: inspect.Signature
    ctx_param: str | None
    is_async: bool
    is_stream: bool
    doc: str
    #: For signatures made only of named parameters: every name, and the required ones. Binding such
    #: a signature is two set checks; anything else goes through ``inspect.Signature.bind``.
    simple_names: frozenset[str] | None = None
    simple_required: frozenset[str] = frozenset()

    @classmethod
    def from_function(cls, fn: Callable[..., Any], mark: _ToolMark) -> ToolSpec:
        sig = inspect.signature(fn)
        ctx_param = None
        params = []
        for p in sig.parameters.values():
            if ctx_param is None and _is_context_param(p):
                ctx_param = p.name
            else:
                params.append(p)
        raw = inspect.unwrap(fn)
        is_stream = inspect.isgeneratorfunction(raw) or inspect.isasyncgenfunction(raw)
        is_async = inspect.iscoroutinefunction(raw) or inspect.isasyncgenfunction(raw)
        doc = mark.description if mark.description is not None else inspect.getdoc(fn) or ""
        named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        simple = all(p.kind in named for p in params)
        return cls(
            name=mark.name or fn.__name__,
            fn=fn,
            signature=sig.replace(parameters=params),
            ctx_param=ctx_param,
            is_async=is_async,
            is_stream=is_stream,
            doc=doc,
            simple_names=frozenset(p.name for p in params) if simple else None,
            simple_required=frozenset(p.name for p in params if p.default is inspect.Parameter.empty),
        )

    def bind(self, args: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Check ``args`` against the signature; return the positional and keyword arguments to call
        the tool with. Raises InvalidArguments naming the offending parameter."""
        if not isinstance(args, dict):
            raise InvalidArguments(f"tool {self.name!r} takes keyword arguments as an object")
        names = self.simple_names
        if names is not None:
            keys = args.keys()
            if keys <= names and self.simple_required <= keys:
                return (), dict(args)
        try:
            bound = self.signature.bind(**args)
        except TypeError as exc:
            raise InvalidArguments(f"tool {self.name!r}: {exc}") from None
        # Everything by keyword (the host sends keywords only), so an injected ``ctx`` never collides
        # with a positional argument, wherever ``ctx`` sits in the signature.
        kwargs: dict[str, Any] = {}
        for name, value in bound.arguments.items():
            if self.signature.parameters[name].kind is inspect.Parameter.VAR_KEYWORD:
                kwargs.update(value)
            else:
                kwargs[name] = value
        return (), kwargs

    def describe(self) -> dict[str, Any]:
        params = []
        for p in self.signature.parameters.values():
            entry: dict[str, Any] = {
                "name": p.name,
                "type": _annotation_text(p.annotation),
                "required": p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD),
                "kind": p.kind.name.lower(),
            }
            if p.default is not inspect.Parameter.empty:
                if isinstance(p.default, _PLAIN_DEFAULTS):
                    entry["default"] = p.default
                else:
                    entry["default_repr"] = repr(p.default)
            params.append(entry)
        return {
            "name": self.name,
            "doc": self.doc,
            "params": params,
            "returns": _annotation_text(self.signature.return_annotation),
            "async": self.is_async,
            "stream": self.is_stream,
        }


def collect_tools(target: object) -> dict[str, ToolSpec]:
    tools: dict[str, ToolSpec] = {}
    if isinstance(target, ModuleType):
        candidates = [(name, value) for name, value in vars(target).items()]
    else:
        candidates = [(name, getattr(target, name)) for name in dir(type(target)) if not name.startswith("__")]
    for _, value in candidates:
        mark = getattr(value, _TOOL_ATTR, None)
        if isinstance(mark, _ToolMark) and callable(value):
            spec = ToolSpec.from_function(value, mark)
            if spec.name in tools:
                raise AdapterError(f"two tools are named {spec.name!r}")
            tools[spec.name] = spec
    return tools


def _import_target(spec: str) -> tuple[ModuleType, str | None]:
    module_part, attr = spec, None
    head, sep, tail = spec.rpartition(":")
    if sep and tail and "/" not in tail and "." not in tail:
        module_part, attr = head, tail
    if module_part.endswith(".py") or "/" in module_part:
        path = Path(module_part).resolve()
        if not path.is_file():
            raise AdapterError(f"adapter file not found: {path}")
        sys.path.insert(0, str(path.parent))
        name = path.stem
        loader_spec = importlib.util.spec_from_file_location(name, path)
        if loader_spec is None or loader_spec.loader is None:
            raise AdapterError(f"cannot load adapter file {path}")
        module = importlib.util.module_from_spec(loader_spec)
        sys.modules[name] = module
        loader_spec.loader.exec_module(module)
        return module, attr
    return importlib.import_module(module_part), attr


def load_adapter(spec: str) -> tuple[object, dict[str, ToolSpec]]:
    """Import the adapter named by ``spec`` (``path/to/file.py[:Attr]`` or ``package.module[:Attr]``)
    and return the adapter object (an instance or the module) and its tools."""
    module, attr = _import_target(spec)
    target: object
    if attr is not None:
        if not hasattr(module, attr):
            raise AdapterError(f"adapter {spec!r}: module {module.__name__!r} has no attribute {attr!r}")
        found = getattr(module, attr)
        target = found() if isinstance(found, type) else found
    else:
        classes = [
            value
            for value in vars(module).values()
            if isinstance(value, type)
            and issubclass(value, Adapter)
            and value is not Adapter
            and value.__module__ == module.__name__
        ]
        if len(classes) > 1:
            names = ", ".join(sorted(c.__name__ for c in classes))
            raise AdapterError(f"adapter {spec!r} defines several Adapter classes ({names}); name one as {spec}:Name")
        target = classes[0]() if classes else module
    tools = collect_tools(target)
    if not tools:
        raise AdapterError(f"adapter {spec!r} defines no @tool functions")
    return target, tools
