"""What a reference grants (docs/security.md, "References").

A reference is a capability: the holder may call the public methods of the object's own class and
read its public data attributes, nothing else. Precisely:

- ``call(m)``: ``m`` is a public name (no leading ``_``; the container protocol ``__len__``,
  ``__getitem__`` and ``__contains__`` excepted) defined as a method on a class of
  ``type(obj).__mro__`` (a function, builtin method, classmethod or staticmethod); it is bound to the
  object directly, so an instance attribute of the same name (or ``__getattr__``) is never called.
  Methods of ``METHOD_DENY`` (``numpy.ndarray.tofile``) and any method that is a deny-listed callable
  (``NEVER``, ``WILDCARD_DENY``: ``run = staticmethod(os.system)``) are refused.
- ``get(a)``: ``a`` is a public name; the value read is checked like every value below.
- ``ctx.ref(obj, expose=[...])`` replaces those rules for that reference with exactly the listed
  public names (for ``call`` and ``get``); the method deny list is then not applied to the listed
  names, the value checks still are.

Whatever path reaches it, no value and no reference is ever a frame, code object, traceback, module,
cell, class, function, method, builtin, descriptor, ``functools.partial`` / ``operator.attrgetter``
-like wrapper, a module's globals or the builtins mapping, or an instance of a ``NEVER`` class
(``string.Formatter``). Generators, coroutines and async generators may be referenced; their frames
and code (``gi_frame``, ``cr_code``, ``ag_frame``, ...) are values of those kinds and so are refused.
A reference passed back as an argument is checked again."""

from __future__ import annotations

import builtins
import functools
import operator
import sys
import types

from .allow import denied_object
from .denylist import METHOD_DENY, NEVER, WILDCARD_DENY
from .errors import PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (types.FrameType, "a frame"),
    (types.CodeType, "a code object"),
    (types.TracebackType, "a traceback"),
    (types.ModuleType, "a module"),
    (types.CellType, "a closure cell"),
    (types.MappingProxyType, "a class namespace"),
    (type, "a class"),
    (
        (
            types.FunctionType,
            types.BuiltinFunctionType,
            types.MethodType,
            types.MethodWrapperType,
            types.WrapperDescriptorType,
            types.MethodDescriptorType,
            types.ClassMethodDescriptorType,
            types.GetSetDescriptorType,
            types.MemberDescriptorType,
        ),
        "a function or method",
    ),
    ((property, staticmethod, classmethod, functools.partialmethod), "a descriptor"),
    ((functools.partial, operator.attrgetter, operator.methodcaller), "a callable wrapper"),
    (super, "a super object"),
)


_METHODS = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
)


def forbidden(value: object) -> str | None:
    """Why ``value`` may not leave the worker as a value or a reference, or None."""
    for kinds, label in _KINDS:
        if isinstance(value, kinds):
            return label
    if type(value) is dict and _is_namespace(value):
        return "a module's globals or the builtins mapping"
    entry = denied_object(type(value), NEVER)
    if entry is not None:
        return f"an instance of the deny-listed {entry}"
    return None


def _is_namespace(mapping: dict[Any, Any]) -> bool:
    if mapping is builtins.__dict__ or "__builtins__" in mapping:
        return True
    return any(getattr(module, "__dict__", None) is mapping for module in list(sys.modules.values()))


def check_value(value: object, what: str) -> None:
    reason = forbidden(value)
    if reason is not None:
        raise PermissionDenied(what, f"{what} is {reason}; references never expose {reason.split(' ', 1)[1]}")


def public_name(name: object) -> str:
    if not isinstance(name, str) or not name.isidentifier():
        raise PermissionDenied(repr(name), f"{name!r} is not an attribute name")
    if name.startswith("_"):
        raise PermissionDenied(name, f"attribute {name!r} is private; names starting with _ are not reachable")
    return name


def normalise_expose(expose: Iterable[str] | None) -> frozenset[str] | None:
    if expose is None:
        return None
    problem = f"expose must be a list of attribute names, got {type(expose).__name__}"
    if isinstance(expose, str):
        raise TypeError(problem)
    try:
        names = list(expose)
    except TypeError:
        raise TypeError(problem) from None
    return frozenset(public_name(name) for name in names)


def _label(obj: object, name: str) -> str:
    return f"{type(obj).__qualname__}.{name}"


#: Container protocol methods a reference may call although their names start with ``_``.
PROTOCOL_METHODS = frozenset({"__len__", "__getitem__", "__contains__"})


def bound_method(obj: Any, name: str, expose: frozenset[str] | None) -> Any:
    """The method ``name`` of ``obj`` that a reference may call, bound to ``obj``."""
    if name not in PROTOCOL_METHODS or (expose is not None and name not in expose):
        public_name(name)
    what = _label(obj, name)
    if expose is not None:
        if name not in expose:
            raise PermissionDenied(what, f"{what} is not exposed by this reference (it exposes {sorted(expose)})")
        fn = getattr(obj, name)
        if not callable(fn):
            raise TypeError(f"attribute {name!r} of {type(obj).__qualname__} is not callable; use get()")
        return fn
    for cls in type(obj).__mro__:
        if name in cls.__dict__:
            attr = cls.__dict__[name]
            break
    else:
        raise PermissionDenied(what, f"{what} is not a method of {type(obj).__qualname__}'s class")
    method_name = f"{cls.__module__}.{cls.__qualname__}.{name}"
    if method_name in METHOD_DENY or method_name in NEVER:
        raise PermissionDenied(
            what,
            f"{what} is the deny-listed method {method_name}; expose it with ctx.ref(obj, expose=[...])",
        )
    if isinstance(attr, (staticmethod, classmethod)):
        inner = attr.__func__
    elif isinstance(
        attr,
        (
            types.FunctionType,
            types.BuiltinFunctionType,
            types.MethodDescriptorType,
            types.WrapperDescriptorType,
            types.ClassMethodDescriptorType,
        ),
    ):
        inner = attr
    else:
        raise PermissionDenied(what, f"{what} is not a method (a {type(attr).__qualname__}); use get() for data")
    entry = denied_object(inner, NEVER) or denied_object(inner, WILDCARD_DENY)
    if entry is not None and getattr(inner, "__module__", None) != getattr(cls, "__module__", None):
        raise PermissionDenied(what, f"{what} is the deny-listed {entry}")
    return attr.__get__(obj, type(obj))


def attribute(obj: Any, name: str, expose: frozenset[str] | None) -> Any:
    """The attribute ``name`` of ``obj`` that a reference may read, checked."""
    public_name(name)
    what = _label(obj, name)
    if expose is not None and name not in expose:
        raise PermissionDenied(what, f"{what} is not exposed by this reference (it exposes {sorted(expose)})")
    if expose is None:
        for cls in type(obj).__mro__:
            if name in cls.__dict__:
                member = f"{cls.__module__}.{cls.__qualname__}.{name}"
                if member in METHOD_DENY:
                    raise PermissionDenied(what, f"{what} is the deny-listed {member}; expose it with ctx.ref(expose=)")
                break
    value = getattr(obj, name)
    check_value(value, what)
    return value
