"""The adapter and tool API: ``@tool``, ``Adapter``, and loading an adapter from a path or module."""

from __future__ import annotations

import os
import sys
from types import ModuleType

from .conversions import argument_converters, convert_arguments
from .errors import AdapterError, InvalidArguments
from .protocol import ENV_CATALOGUE_TYPES
from .signature import (
    EMPTY,
    KEYWORD_ONLY,
    POSITIONAL_OR_KEYWORD,
    VAR_KEYWORD,
    VAR_POSITIONAL,
    Param,
    annotation_text,
    clean_doc,
    is_async_function,
    is_generator_function,
    read_signature,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Collection
    from typing import Any, TypeVar, overload

    from .serving import Batch, Cache

    F = TypeVar("F", bound=Callable[..., Any])
else:

    def overload(fn: Any) -> Any:  # typing stays unimported at run time: a worker starts faster
        return fn


_TOOL_ATTR = "__snakepit_tool__"


class _ToolMark:
    __slots__ = ("name", "description", "batch", "cache")

    def __init__(
        self, name: str | None, description: str | None, batch: Batch | None = None, cache: Cache | None = None
    ) -> None:
        self.name = name
        self.description = description
        self.batch = batch
        self.cache = cache


@overload
def tool(fn: F, /) -> F: ...
@overload
def tool(  # noqa: F811
    *, name: str | None = None, description: str | None = None, batch: Batch | None = None, cache: Cache | None = None
) -> Callable[[F], F]: ...


def tool(  # noqa: F811 - the overloads above are for type checkers only
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    batch: Batch | None = None,
    cache: Cache | None = None,
) -> F | Callable[[F], F]:
    """Mark a function or method as a tool the host can call.

    ``@tool`` or ``@tool(name="other", description="...")``. Plain functions, ``async def``,
    generators and async generators (streaming tools) are all accepted. ``batch=Batch(...)`` makes
    the host send concurrent calls as one list; ``cache=Cache(...)`` lets the host answer repeated
    calls from its cache (see ``snakepit_bridge.serving``)."""
    if batch is not None or cache is not None:
        _check_serving(batch, cache)
    if name is not None:
        _check_tool_name(name)
    if description is not None and not isinstance(description, str):
        raise AdapterError(f"@tool description= takes a string, got {type(description).__name__}")

    def mark(f: F) -> F:
        if isinstance(f, type):
            raise AdapterError(
                f"@tool marks functions and methods, and {f.__name__} is a class: "
                "mark a function or method that makes its objects"
            )
        if isinstance(f, (classmethod, staticmethod)):
            kind = type(f).__name__
            raise AdapterError(f"@tool on a {kind} marks nothing the worker finds: put @tool below @{kind}")
        if not callable(f):
            raise AdapterError(f"@tool marks functions and methods, got {type(f).__name__}")
        setattr(f, _TOOL_ATTR, _ToolMark(name, description, batch, cache))
        return f

    return mark(fn) if fn is not None else mark


def _check_serving(batch: object, cache: object) -> None:
    """``batch=`` and ``cache=`` of ``@tool``. The serving module loads here, at the first tool that
    asks for either: a worker whose tools use neither never imports it (a shorter start)."""
    from .serving import Batch, Cache

    if batch is not None and not isinstance(batch, Batch):
        raise AdapterError(f"@tool batch= takes a snakepit_bridge.Batch, got {type(batch).__name__}")
    if cache is not None and not isinstance(cache, Cache):
        raise AdapterError(f"@tool cache= takes a snakepit_bridge.Cache, got {type(cache).__name__}")


def _check_tool_name(name: object) -> None:
    """A name given with ``@tool(name=...)``: what the host can call it by."""
    if not isinstance(name, str):
        raise AdapterError(f"@tool name= takes a string, got {type(name).__name__}")
    if not name:
        raise AdapterError("@tool name= must not be empty")
    if name.startswith("$"):
        raise AdapterError(
            f"@tool name {name!r}: names starting with $ are the worker's built-in tools ($python.*, $ref.*)"
        )
    if not name.isprintable():
        raise AdapterError(f"@tool name {name!r} has a control character")


class Adapter:
    """Base class for adapters. Override ``setup`` / ``teardown`` (sync or async) as needed."""

    def setup(self) -> Any:
        return None

    def teardown(self) -> Any:
        return None


def _annotation_text(annotation: Any) -> str | None:
    return None if annotation is EMPTY else annotation_text(annotation)


def _is_context_param(param: Param) -> bool:
    ann = param.annotation
    if param.name == "ctx":
        return True
    if isinstance(ann, str):
        return ann.rsplit(".", 1)[-1] == "Context"
    return getattr(ann, "__name__", None) == "Context" and getattr(ann, "__module__", "").startswith("snakepit_bridge")


_PLAIN_DEFAULTS = (type(None), bool, int, float, str)
_NAMED = (POSITIONAL_OR_KEYWORD, KEYWORD_ONLY)


class ToolSpec:
    """A tool: its function, its parameters (without the injected ``ctx``) and how to call it."""

    __slots__ = (
        "name",
        "fn",
        "params",
        "returns",
        "ctx_param",
        "is_async",
        "is_stream",
        "doc",
        "batch",
        "cache",
        "simple_names",
        "simple_required",
        "plain_names",
        "converters",
        "_named",
        "_required",
        "_var_keyword",
    )

    def __init__(
        self,
        name: str,
        fn: Callable[..., Any],
        params: list[Param],
        returns: Any,
        ctx_param: str | None,
        is_async: bool,
        is_stream: bool,
        doc: str,
        converters: dict[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.name = name
        self.fn = fn
        self.params = params
        self.returns = returns
        self.ctx_param = ctx_param
        self.is_async = is_async
        self.is_stream = is_stream
        self.doc = doc
        self.batch: Batch | None = None
        self.cache: Cache | None = None
        self._named = frozenset(p.name for p in params if p.kind in _NAMED)
        # Required in the order of the signature, so the error names the first one missing.
        self._required = [p.name for p in params if p.default is EMPTY and p.kind not in (VAR_POSITIONAL, VAR_KEYWORD)]
        self._var_keyword = any(p.kind == VAR_KEYWORD for p in params)
        #: Arguments converted by their annotation (tables to pandas or polars, arrays to tensors).
        self.converters = converters or {}
        simple = all(p.kind in _NAMED for p in params) and not self.converters
        #: For signatures made only of named parameters: every name, and the required ones. Binding such
        #: a signature is two set checks; anything else goes through the general path of ``bind``.
        self.simple_names: frozenset[str] | None = self._named if simple else None
        self.simple_required = frozenset(self._required)
        #: ``simple_names`` of a plain sync tool (neither async nor a generator): what dispatch's short
        #: path checks first.
        self.plain_names = self.simple_names if not (is_async or is_stream) else None

    @classmethod
    def from_function(cls, fn: Callable[..., Any], mark: _ToolMark) -> ToolSpec:
        signature, returns = read_signature(fn)
        ctx_param = None
        params = []
        for p in signature:
            if ctx_param is None and _is_context_param(p):
                ctx_param = p.name
            else:
                params.append(p)
        doc = mark.description if mark.description is not None else clean_doc(fn)
        name = mark.name or fn.__name__
        is_async, is_stream = is_async_function(fn), is_generator_function(fn)
        if mark.batch is not None:
            if is_stream:
                raise AdapterError(f"tool {name!r}: a generator cannot be batched")
            if ctx_param is not None or len(params) != 1:
                raise AdapterError(
                    f"batched tool {name!r} must take exactly one parameter (the list of calls) and no ctx"
                )
            from .serving import batch_wrapper

            fn = batch_wrapper(name, fn, is_async)
            params, _ = read_signature(fn)
        spec = cls(
            name=name,
            fn=fn,
            params=params,
            returns=returns,
            ctx_param=None if mark.batch is not None else ctx_param,
            is_async=is_async,
            is_stream=is_stream,
            doc=doc,
            converters=argument_converters(fn, params),
        )
        spec.batch, spec.cache = mark.batch, mark.cache
        return spec

    def with_fn(self, fn: Callable[..., Any]) -> ToolSpec:
        """The same tool, run through ``fn`` (a session's wrapper)."""
        clone = ToolSpec.__new__(ToolSpec)
        for slot in ToolSpec.__slots__:
            setattr(clone, slot, getattr(self, slot))
        clone.fn = fn
        return clone

    def bind(self, args: dict[str, Any]) -> dict[str, Any]:
        """Check ``args`` against the signature; return the keyword arguments to call the tool with
        (all by keyword: the host sends keywords only, so an injected ``ctx`` never collides with a
        positional argument, wherever ``ctx`` sits in the signature). Raises InvalidArguments naming
        the offending parameter."""
        if not isinstance(args, dict):
            raise InvalidArguments(f"tool {self.name!r} takes keyword arguments as an object")
        names = self.simple_names
        if names is not None:
            keys = args.keys()
            if keys <= names and self.simple_required <= keys:
                return dict(args)
        for key in args:
            if type(key) is not str:
                raise InvalidArguments(f"tool {self.name!r}: argument names must be strings, got {key!r}")
        missing = [name for name in self._required if name not in args]
        unexpected = [] if self._var_keyword else [key for key in args if key not in self._named]
        if missing or unexpected:
            raise InvalidArguments(f"tool {self.name!r}: {_binding_problems(missing, unexpected, self._named)}")
        kwargs = dict(args)
        if self.converters:
            convert_arguments(self.converters, kwargs, self.name)
        return kwargs

    def describe(self) -> dict[str, Any]:
        params = []
        for p in self.params:
            entry: dict[str, Any] = {
                "name": p.name,
                "type": _annotation_text(p.annotation),
                "required": p.default is EMPTY and p.kind not in (VAR_POSITIONAL, VAR_KEYWORD),
                "kind": p.kind,
            }
            if p.default is not EMPTY:
                if isinstance(p.default, _PLAIN_DEFAULTS):
                    entry["default"] = p.default
                else:
                    entry["default_repr"] = repr(p.default)
            params.append(entry)
        out: dict[str, Any] = {
            "name": self.name,
            "doc": self.doc,
            "params": params,
            "returns": _annotation_text(self.returns),
            "async": self.is_async,
            "stream": self.is_stream,
            **({"batch": self.batch.describe()} if self.batch is not None else {}),
            **({"cache": self.cache.describe()} if self.cache is not None else {}),
        }
        if os.environ.get(ENV_CATALOGUE_TYPES) == "1":
            # Type trees only on request: typeinfo imports typing, which a plain worker never loads.
            from .typeinfo import tool_types

            nodes, result = tool_types(self.fn, self.params, self.returns, self.is_stream)
            for entry, node in zip(params, nodes, strict=True):
                entry["schema"] = node
            out["returns_schema"] = result
        return out


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
        path = os.path.realpath(module_part)
        if not os.path.isfile(path):
            raise AdapterError(f"adapter file not found: {path}")
        sys.path.insert(0, os.path.dirname(path))
        return _import_file(os.path.splitext(os.path.basename(path))[0], path), attr
    # __import__ rather than importlib.import_module: the same for an absolute name, without
    # importing the importlib package at every worker start.
    __import__(module_part)
    return sys.modules[module_part], attr


def _import_file(name: str, path: str) -> ModuleType:
    try:
        # The functions importlib.util takes from the import system's own modules, which are always
        # loaded: importlib.util itself imports contextlib, importlib.abc and more (about 0.8 ms and
        # 0.5 MiB of every worker).
        from _frozen_importlib import module_from_spec
        from _frozen_importlib_external import spec_from_file_location
    except ImportError:
        from importlib.util import module_from_spec, spec_from_file_location
    loader_spec = spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise AdapterError(f"cannot load adapter file {path}")
    module = module_from_spec(loader_spec)
    sys.modules[name] = module
    loader_spec.loader.exec_module(module)
    return module


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


def _binding_problems(missing: list[str], unexpected: list[str], named: Collection[str]) -> str:
    """Names every unexpected and missing argument, with a suggestion for a likely misspelling."""
    import difflib  # on a binding error only: keeps the worker's startup light

    parts = []
    for key in unexpected:
        # A misspelling most likely means a parameter that was not given: look there first.
        close = difflib.get_close_matches(key, missing, n=1) or difflib.get_close_matches(key, list(named), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parts.append(f"got an unexpected keyword argument {key!r}{hint}")
    if missing:
        noun = "argument" if len(missing) == 1 else "arguments"
        parts.append(f"missing a required {noun}: {', '.join(map(repr, missing))}")
    return "; ".join(parts)
