"""Reading a tool's signature without ``inspect``.

``inspect`` (with ``ast``, ``dis``, ``tokenize`` and ``enum`` behind it) is the largest import a worker
would make at start. Plain functions and methods, which are almost every tool, are read here from
their code object, defaults and annotations; anything else (a ``functools.wraps`` decorator's
``__wrapped__``, an explicit ``__signature__``, a partial, a callable object) goes through
``inspect.signature``, imported only then. Both give the same ``Param`` list."""

from __future__ import annotations

from collections.abc import Awaitable
from types import FunctionType, GeneratorType, GenericAlias, MethodType

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

POSITIONAL_ONLY = "positional_only"
POSITIONAL_OR_KEYWORD = "positional_or_keyword"
VAR_POSITIONAL = "var_positional"
KEYWORD_ONLY = "keyword_only"
VAR_KEYWORD = "var_keyword"

# Code object flags (Include/cpython/code.h).
_CO_VARARGS = 0x04
_CO_VARKEYWORDS = 0x08
_CO_GENERATOR = 0x20
_CO_COROUTINE = 0x80
_CO_ITERABLE_COROUTINE = 0x100
_CO_ASYNC_GENERATOR = 0x200


class _Empty:
    """No default, or no annotation."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<empty>"


EMPTY: Any = _Empty()


class Param:
    __slots__ = ("name", "kind", "default", "annotation")

    def __init__(self, name: str, kind: str, default: Any = EMPTY, annotation: Any = EMPTY) -> None:
        self.name = name
        self.kind = kind
        self.default = default
        self.annotation = annotation

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.kind})"


def read_signature(fn: Callable[..., Any]) -> tuple[list[Param], Any]:
    """The parameters of ``fn`` as the caller sees them (a bound method without ``self``) and its
    return annotation (``EMPTY`` when it has none)."""
    target: Any = fn
    bound = type(fn) is MethodType
    if bound:
        target = fn.__func__  # type: ignore[attr-defined]
    if type(target) is not FunctionType or hasattr(target, "__wrapped__") or hasattr(target, "__signature__"):
        return _read_with_inspect(fn)
    code = target.__code__
    flags = code.co_flags
    npos = code.co_argcount
    if bound and npos == 0:
        return _read_with_inspect(fn)
    nkw = code.co_kwonlyargcount
    names = code.co_varnames
    defaults = target.__defaults__ or ()
    kwdefaults = target.__kwdefaults__ or {}
    annotations = target.__annotations__
    first_default = npos - len(defaults)
    params: list[Param] = []
    for i in range(npos):
        name = names[i]
        kind = POSITIONAL_ONLY if i < code.co_posonlyargcount else POSITIONAL_OR_KEYWORD
        default = defaults[i - first_default] if i >= first_default else EMPTY
        params.append(Param(name, kind, default, annotations.get(name, EMPTY)))
    at = npos + nkw
    if flags & _CO_VARARGS:
        params.append(Param(names[at], VAR_POSITIONAL, EMPTY, annotations.get(names[at], EMPTY)))
        at += 1
    for name in names[npos : npos + nkw]:
        params.append(Param(name, KEYWORD_ONLY, kwdefaults.get(name, EMPTY), annotations.get(name, EMPTY)))
    if flags & _CO_VARKEYWORDS:
        params.append(Param(names[at], VAR_KEYWORD, EMPTY, annotations.get(names[at], EMPTY)))
    if bound:
        params.pop(0)
    return params, annotations.get("return", EMPTY)


def _read_with_inspect(fn: Callable[..., Any]) -> tuple[list[Param], Any]:
    import inspect  # only for callables that are not plain functions or methods

    sig = inspect.signature(fn)

    def value(x: Any) -> Any:
        return EMPTY if x is inspect.Parameter.empty else x

    params = [
        Param(p.name, p.kind.name.lower(), value(p.default), value(p.annotation)) for p in sig.parameters.values()
    ]
    return params, value(sig.return_annotation)


def _code_flags(fn: Any) -> int:
    """Flags of the code behind ``fn``, through methods, partials and ``__wrapped__`` chains."""
    seen = 0
    while seen < 100:
        seen += 1
        if type(fn) is MethodType:
            fn = fn.__func__
        elif hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        elif hasattr(fn, "func") and type(fn).__name__ == "partial":
            fn = fn.func
        else:
            break
    code = getattr(fn, "__code__", None)
    return int(code.co_flags) if code is not None else 0


def is_generator_function(fn: Any) -> bool:
    return bool(_code_flags(fn) & (_CO_GENERATOR | _CO_ASYNC_GENERATOR))


def is_async_function(fn: Any) -> bool:
    return bool(_code_flags(fn) & (_CO_COROUTINE | _CO_ASYNC_GENERATOR))


def is_awaitable(value: object) -> bool:
    """``inspect.isawaitable``: a coroutine, a generator-based coroutine, or anything with ``__await__``."""
    if isinstance(value, Awaitable):
        return True
    return type(value) is GeneratorType and bool(value.gi_code.co_flags & _CO_ITERABLE_COROUTINE)


def clean_doc(fn: Any) -> str:
    """``inspect.getdoc`` for a function: its docstring with the indentation of the lines after the
    first removed, and leading and trailing blank lines dropped."""
    doc = getattr(fn, "__doc__", None)
    if doc is None and type(fn) is MethodType:
        # Like inspect.getdoc: an overriding method without a docstring shows the overridden one's,
        # looked up along the class's MRO (the class itself for a classmethod bound to it).
        owner = fn.__self__
        klass: type = type(owner)
        if isinstance(owner, type) and getattr(getattr(owner, fn.__name__, None), "__func__", None) is fn.__func__:
            klass = owner
        for cls in klass.__mro__:
            member = cls.__dict__.get(fn.__name__)
            if member is None:
                continue  # not None.__doc__, which Python 3.13 gives a text
            found = getattr(member, "__doc__", None)
            if found is not None:
                doc = found
                break
    if not isinstance(doc, str):
        return ""
    lines = doc.expandtabs().split("\n")
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents) if indents else 0
    lines = [lines[0].strip(), *(line[margin:].rstrip() for line in lines[1:])]
    while lines and not lines[-1]:
        lines.pop()
    while lines and not lines[0]:
        lines.pop(0)
    return "\n".join(lines)


def annotation_text(annotation: Any) -> str:
    """An annotation as written: a class by its name, anything else as Python prints it. ``list[str]``
    is not a class, though Python 3.10 says it is an instance of ``type``."""
    if isinstance(annotation, str):
        return annotation
    if isinstance(annotation, type) and not isinstance(annotation, GenericAlias):
        return annotation.__qualname__
    return str(annotation).replace("typing.", "")
