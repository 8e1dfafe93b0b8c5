"""Annotations as a small JSON type tree, for generated clients and argument checking.

Imported only when the catalogue is asked for types (``SNAKEPIT_CATALOGUE_TYPES=1``, which the host
sets for ``snakepit tools``/``codegen`` and for the ``checkArguments`` pool option): it imports
``typing`` (about 3 ms), which a plain worker never loads at start. ``dataclasses`` (which imports
``inspect``, about 20 ms), ``enum``, ``datetime`` and ``decimal`` are not imported: a class is matched
by its module and name, and those modules are looked up in ``sys.modules`` (a class of theirs means
they are loaded).

A node is a dict with a ``kind``:

- ``int``, ``float``, ``str``, ``bool``, ``none``, ``bytes``, ``datetime``, ``date``, ``decimal``
- ``unknown`` (``text``: the annotation as written, when there was one)
- ``list`` (``item``), ``set`` (``item``), ``tuple`` (``items``), ``dict`` (``key``, ``value``)
- ``union`` (``options``), ``literal`` (``values``: str, int, bool or None)
- ``enum`` (``name``, ``values``: the members' values)
- ``object`` (``name``, ``source``: typeddict | dataclass | namedtuple | pydantic, ``fields``:
  ``[{name, type, required}]``)
- ``ref`` (``name``): a named object met again inside itself (a recursive type)
- ``ndarray`` (``dtype``: a NumPy dtype name, or None when not given)
- ``iterator`` (``item``, ``async``): a generator's or iterator's yield type
"""

from __future__ import annotations

import collections.abc as cabc
import sys
import types
import typing
from typing import Any

from .signature import EMPTY, annotation_text

Node = dict[str, Any]

_PRIMITIVES: dict[Any, str] = {
    int: "int",
    float: "float",
    str: "str",
    bool: "bool",
    bytes: "bytes",
    bytearray: "bytes",
    memoryview: "bytes",
    type(None): "none",
}
#: Classes of modules this file does not import, by (module, name); subclasses match through the MRO.
_NAMED: dict[tuple[str, str], str] = {
    ("datetime", "datetime"): "datetime",
    ("datetime", "date"): "date",
    ("decimal", "Decimal"): "decimal",
    ("_decimal", "Decimal"): "decimal",
    ("_pydecimal", "Decimal"): "decimal",
}
_LISTS = {list, cabc.Sequence, cabc.MutableSequence, cabc.Collection, cabc.Iterable}
_SETS = {set, frozenset, cabc.Set, cabc.MutableSet}
_DICTS = {dict, cabc.Mapping, cabc.MutableMapping}
_ITERATORS = {
    cabc.Generator: False,
    cabc.Iterator: False,
    cabc.AsyncGenerator: True,
    cabc.AsyncIterator: True,
    cabc.AsyncIterable: True,
}
_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType) if sys.version_info >= (3, 10) else (typing.Union,)


def resolve_hints(fn: Any) -> dict[str, Any]:
    """The annotations of ``fn`` with strings (``from __future__ import annotations``) evaluated;
    the raw annotations when they cannot be."""
    target = getattr(fn, "__func__", fn)
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # noqa: BLE001 - a name that does not resolve: keep the text
        return dict(getattr(target, "__annotations__", {}) or {})


def describe_type(annotation: Any, _seen: frozenset[Any] = frozenset()) -> Node:
    """The type tree of one annotation. Never raises: what it cannot describe is ``unknown``."""
    try:
        return _describe(annotation, _seen)
    except Exception:  # noqa: BLE001 - a strange annotation must not break the catalogue
        return {"kind": "unknown", "text": annotation_text(annotation)}


def _describe(tp: Any, seen: frozenset[Any]) -> Node:
    if tp is EMPTY or tp is typing.Any or tp is object:
        return {"kind": "unknown"} if tp is EMPTY else {"kind": "unknown", "text": "Any"}
    if tp is None:
        return {"kind": "none"}
    if isinstance(tp, str) or isinstance(tp, typing.ForwardRef):
        return {"kind": "unknown", "text": tp if isinstance(tp, str) else tp.__forward_arg__}
    if _is_alias(tp):  # `type Name = ...` (Python 3.12+, or typing_extensions.TypeAliasType)
        if tp in seen:
            return {"kind": "unknown", "text": tp.__name__}
        return _describe(tp.__value__, seen | {tp})
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if _is_alias(origin):  # a generic alias given its arguments: numpy.typing.NDArray[np.float64] on numpy 2.5+
        if origin in seen:
            return {"kind": "unknown", "text": annotation_text(tp)}
        return _describe(_substitute(origin, args), seen | {origin})
    if origin is typing.Annotated:
        return _describe(args[0], seen)
    if origin in _UNION_TYPES:
        return union([_describe(a, seen) for a in args])
    if origin is typing.Literal:
        values = [a.value if _is_enum(type(a)) else a for a in args]
        if all(_plain(v) for v in values):
            return {"kind": "literal", "values": values}
        return {"kind": "unknown", "text": annotation_text(tp)}
    if origin is not None and _is_numpy(origin):
        return {"kind": "ndarray", "dtype": _numpy_dtype(args)}
    if origin is not None:
        return _generic(origin, args, seen)
    if isinstance(tp, typing.TypeVar):
        bound = tp.__bound__
        return _describe(bound, seen) if bound is not None else {"kind": "unknown", "text": tp.__name__}
    if isinstance(tp, type):
        return _class(tp, seen)
    if getattr(tp, "__supertype__", None) is not None:  # typing.NewType
        return _describe(tp.__supertype__, seen)
    return {"kind": "unknown", "text": annotation_text(tp)}


def _is_alias(tp: Any) -> bool:
    """A type alias object (``typing.TypeAliasType`` and its backport): its value is evaluated lazily."""
    return type(tp).__name__ == "TypeAliasType" and hasattr(tp, "__value__") and hasattr(tp, "__type_params__")


def _substitute(alias: Any, args: tuple[Any, ...]) -> Any:
    """The value of a generic type alias with its type parameters replaced by ``args``."""
    value = alias.__value__
    params = tuple(alias.__type_params__)
    if not params or len(params) != len(args):
        return value
    by_param = dict(zip(params, args, strict=True))
    used = tuple(getattr(value, "__parameters__", ()))
    if not used:
        return value
    return value[tuple(by_param.get(p, p) for p in used) if len(used) > 1 else by_param.get(used[0], used[0])]


def union(options: list[Node]) -> Node:
    """One node for the union of ``options``: nested unions flattened, repeats dropped, the literals
    gathered in one ``literal`` node where the first of them stood, less the values that a primitive
    among the options already covers (``Literal[True] | bool`` is ``bool``)."""
    flat: list[Node] = []
    literals: list[Any] = []
    literal_at = -1
    for option in options:
        for o in option["options"] if option["kind"] == "union" else [option]:
            if o["kind"] == "literal":
                if literal_at < 0:
                    literal_at = len(flat)
                literals.extend(v for v in o["values"] if not any(_same(v, w) for w in literals))
            elif o not in flat:
                flat.append(o)
    kinds = {o["kind"] for o in flat}
    rest = [v for v in literals if not kinds & _COVERED.get(type(v), set())]
    if rest:
        flat.insert(literal_at, {"kind": "literal", "values": rest})
    return flat[0] if len(flat) == 1 else {"kind": "union", "options": flat}


#: The node kinds that take every value of a literal's type: an int where a float is expected (PEP
#: 484's numeric tower); a bool is not an int here, since JSON and TypeScript tell true from 1.
_COVERED: dict[type, set[str]] = {
    bool: {"bool"},
    int: {"int", "float"},
    str: {"str"},
    float: {"float"},
    type(None): {"none"},
}


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _generic(origin: Any, args: tuple[Any, ...], seen: frozenset[Any]) -> Node:
    if origin is tuple:
        if not args:
            return {"kind": "list", "item": {"kind": "unknown"}}
        if len(args) == 2 and args[1] is Ellipsis:
            return {"kind": "list", "item": _describe(args[0], seen)}
        if args == ((),):
            return {"kind": "tuple", "items": []}
        return {"kind": "tuple", "items": [_describe(a, seen) for a in args]}
    item = _describe(args[0], seen) if args else {"kind": "unknown"}
    if origin in _LISTS:
        return {"kind": "list", "item": item}
    if origin in _SETS:
        return {"kind": "set", "item": item}
    if origin in _DICTS:
        value = _describe(args[1], seen) if len(args) > 1 else {"kind": "unknown"}
        return {"kind": "dict", "key": item, "value": value}
    if origin in _ITERATORS:
        return {"kind": "iterator", "item": item, "async": _ITERATORS[origin]}
    if origin is type:
        return {"kind": "unknown", "text": annotation_text(origin)}
    if isinstance(origin, type):
        return _class(origin, seen)
    return {"kind": "unknown", "text": annotation_text(origin)}


def _class(cls: type, seen: frozenset[Any]) -> Node:
    for base, kind in _PRIMITIVES.items():
        if cls is base:
            return {"kind": kind}
    if _is_enum(cls):
        members: Any = cls
        values = [m.value for m in members]
        if all(_plain(v) for v in values):
            return {"kind": "enum", "name": cls.__name__, "values": values}
        return {"kind": "unknown", "text": cls.__qualname__}
    if _is_numpy(cls):
        return {"kind": "ndarray", "dtype": None}
    scalar = _numpy_scalar(cls)
    if scalar is not None:
        return {"kind": scalar}
    for base in cls.__mro__:
        named = _NAMED.get((base.__module__, base.__qualname__))
        if named is not None:
            return {"kind": named}
    if cls in _LISTS or cls is tuple:
        return {"kind": "list", "item": {"kind": "unknown"}}
    if cls in _SETS:
        return {"kind": "set", "item": {"kind": "unknown"}}
    if cls in _DICTS:
        return {"kind": "dict", "key": {"kind": "str"}, "value": {"kind": "unknown"}}
    if cls in _ITERATORS:
        return {"kind": "iterator", "item": {"kind": "unknown"}, "async": _ITERATORS[cls]}
    fields = _fields(cls)
    if fields is None:
        return {"kind": "unknown", "text": cls.__qualname__}
    if cls in seen:
        return {"kind": "ref", "name": cls.__name__}
    source, raw = fields
    inner = seen | {cls}
    return {
        "kind": "object",
        "name": cls.__name__,
        "source": source,
        "doc": _doc(cls),
        "fields": [{"name": n, "type": describe_type(t, inner), "required": r} for n, t, r in raw],
    }


def _doc(cls: type) -> str:
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str) or doc.startswith(cls.__name__ + "("):  # dataclass/NamedTuple's generated doc
        return ""
    return doc.strip()


def _fields(cls: type) -> tuple[str, list[tuple[str, Any, bool]]] | None:
    """The fields of a TypedDict, dataclass, NamedTuple or pydantic model: (source, [(name, annotation,
    required)]); None for any other class."""
    if typing.is_typeddict(cls):
        hints = resolve_hints(cls)
        required = getattr(cls, "__required_keys__", frozenset(hints))
        return "typeddict", [(n, _strip_required(t), _is_required(t, n in required)) for n, t in hints.items()]
    dc_fields = getattr(cls, "__dataclass_fields__", None)
    if isinstance(dc_fields, dict) and "dataclasses" in sys.modules:
        dc = sys.modules["dataclasses"]
        hints = resolve_hints(cls)
        out = []
        for f in dc_fields.values():
            # dataclasses.fields(): real fields only (not ClassVar / InitVar pseudo-fields), in order.
            if getattr(f, "_field_type", None) is not getattr(dc, "_FIELD", None) or not f.init:
                continue
            needed = f.default is dc.MISSING and f.default_factory is dc.MISSING
            out.append((f.name, hints.get(f.name, f.type), needed))
        return "dataclass", out
    if issubclass(cls, tuple) and hasattr(cls, "_fields"):
        hints = resolve_hints(cls)
        defaults = getattr(cls, "_field_defaults", {})
        return "namedtuple", [(n, hints.get(n, EMPTY), n not in defaults) for n in cls._fields]
    model_fields = getattr(cls, "model_fields", None)
    if isinstance(model_fields, dict) and hasattr(cls, "model_validate"):
        return "pydantic", [(n, f.annotation, bool(f.is_required())) for n, f in model_fields.items()]
    return None


def _is_required(tp: Any, default: bool) -> bool:
    """``Required[...]`` / ``NotRequired[...]`` decide; else the class's totality. (With string
    annotations, ``__required_keys__`` cannot see them: the wrappers are only found here.)"""
    name = getattr(typing.get_origin(tp), "_name", None)
    if name == "NotRequired":
        return False
    if name == "Required":
        return True
    return default


def _strip_required(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is not None and getattr(origin, "_name", None) in ("Required", "NotRequired", "ReadOnly"):
        return typing.get_args(tp)[0]
    return tp


def _plain(value: object) -> bool:
    """A literal the catalogue (JSON) and TypeScript can both write: str, bool, None, a safe integer,
    a finite float."""
    if value is None or type(value) in (str, bool):
        return True
    if type(value) is int:
        return -(2**53) < value < 2**53
    return type(value) is float and value == value and value not in (float("inf"), float("-inf"))


def _is_enum(cls: type) -> bool:
    enum = sys.modules.get("enum")  # a class that is an Enum means enum is loaded
    return enum is not None and isinstance(cls, type) and issubclass(cls, enum.Enum)


def _is_numpy(cls: Any) -> bool:
    """``numpy.ndarray``, or ``torch.Tensor`` (a tensor crosses the wire as an NDArray, docs/data.md)."""
    where = (getattr(cls, "__module__", ""), getattr(cls, "__name__", ""))
    return where in (("numpy", "ndarray"), ("torch", "Tensor"))


def _numpy_scalar(cls: type) -> str | None:
    """``np.float64``, ``np.floating``, ``np.int32``, ``np.bool_``: what they become on the wire."""
    if getattr(cls, "__module__", "") != "numpy":
        return None
    np = sys.modules.get("numpy")
    if np is None or not issubclass(cls, np.generic):
        return None
    if issubclass(cls, np.bool_):
        return "bool"
    if issubclass(cls, np.integer):
        return "int"
    if issubclass(cls, np.floating):
        return "float"
    return None


def _numpy_dtype(args: tuple[Any, ...]) -> str | None:
    """``np.ndarray[shape, np.dtype[np.float64]]`` (what ``numpy.typing.NDArray[np.float64]`` is)."""
    if len(args) < 2:
        return None
    scalars = typing.get_args(args[1])
    if not scalars or not isinstance(scalars[0], type):
        return None
    try:
        import numpy

        name = numpy.dtype(scalars[0]).name
    except Exception:  # noqa: BLE001 - generic scalar types (np.floating) have no single dtype
        return None
    return str(name)


def tool_types(fn: Any, params: list[Any], returns: Any, is_stream: bool) -> tuple[list[Node], Node]:
    """The type trees of a tool's parameters (in order) and of its result; for a generator the
    result is the yield type."""
    hints = resolve_hints(fn)
    nodes = [describe_type(hints.get(p.name, p.annotation)) for p in params]
    result = describe_type(hints.get("return", returns))
    if is_stream:
        result = result["item"] if result["kind"] == "iterator" else {"kind": "unknown"}
    return nodes, result
