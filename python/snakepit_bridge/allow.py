"""The allowlist of arbitrary calls (``pool.python.call`` / ``create``): deny by default.

A pattern is a dotted name (``math.sqrt``: that name only) or a dotted name followed by ``.*``
(``numpy.*``: every name below ``numpy``). A name is checked against the list before anything is
imported; only the allowed name and its parent packages are ever imported. Resolving then refuses:

- segments starting with ``_`` (no dunders, no private helpers);
- a module reached as an attribute under another name (``somepkg.os``: a module must be reached by
  its own dotted name, so an allowed package cannot be used as a path to modules it imported);
- a callable defined outside the module that holds it, outside that module's package and outside
  the allowlist (a re-export such as ``from os import system`` inside an allowed module);
- modules themselves, which are not callable.

The host applies the same rules first (src/pool/allowlist.ts); docs/security.md has the threat model."""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from types import ModuleType

from .errors import PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MAX_NAME = 512


def check_pattern(pattern: str) -> str | None:
    """What is wrong with ``pattern``, or None."""
    body = pattern[:-2] if pattern.endswith(".*") else pattern
    if body in ("", "*"):
        return f"{pattern!r} would allow everything"
    return _check_segments(body)


def check_name(name: str) -> str | None:
    """What is wrong with the dotted name ``name``, or None."""
    if len(name) > _MAX_NAME:
        return f"is longer than {_MAX_NAME} characters"
    if "." not in name:
        return "must be module.attribute (a dotted name)"
    return _check_segments(name)


def _check_segments(body: str) -> str | None:
    for segment in body.split("."):
        if segment.startswith("_"):
            return f"has the private segment {segment!r}; names starting with _ are never callable"
        if not _SEGMENT.match(segment):
            return f"has the segment {segment!r}, which is not a Python identifier"
    return None


class Allowlist:
    def __init__(self, patterns: list[str] | tuple[str, ...]) -> None:
        for pattern in patterns:
            problem = check_pattern(pattern)
            if problem is not None:
                raise ValueError(f"allow pattern {pattern!r}: {problem}")
        self.patterns: tuple[str, ...] = tuple(patterns)

    @classmethod
    def from_env(cls) -> Allowlist:
        """The list the host passed in ``SNAKEPIT_ALLOW`` (a JSON array); empty when unset."""
        raw = os.environ.get("SNAKEPIT_ALLOW", "")
        return cls(json.loads(raw) if raw else [])

    def allows(self, name: str) -> bool:
        for pattern in self.patterns:
            if pattern.endswith(".*"):
                if name.startswith(pattern[:-1]):
                    return True
            elif name == pattern:
                return True
        return False

    def check(self, name: object) -> str:
        """Raise PermissionDenied unless ``name`` is a well-formed, allowed dotted name."""
        if not isinstance(name, str):
            raise PermissionDenied(repr(name), f"a callable's name must be a string, got {type(name).__name__}")
        problem = check_name(name)
        if problem is not None:
            raise PermissionDenied(name, f"{name!r} {problem}")
        if not self.allows(name):
            listed = ", ".join(self.patterns) if self.patterns else "(empty: every name is denied)"
            raise PermissionDenied(name, f"{name!r} is not allowed by the pool's allow list: {listed}")
        return name

    def resolve(self, name: object) -> Any:
        """The object named by ``name``, after the allowlist check (which imports nothing)."""
        dotted = self.check(name)
        parts = dotted.split(".")
        obj: Any = importlib.import_module(parts[0])
        container: ModuleType = obj
        path = parts[0]
        for segment in parts[1:]:
            path = f"{path}.{segment}"
            if isinstance(obj, ModuleType) and not hasattr(obj, segment):
                try:
                    importlib.import_module(path)
                except ModuleNotFoundError as exc:
                    if exc.name != path:
                        raise
                    raise AttributeError(f"module {obj.__name__!r} has no attribute {segment!r}") from None
            obj = getattr(obj, segment)
            if isinstance(obj, ModuleType):
                if sys.modules.get(path) is not obj and obj.__name__ != path:
                    raise PermissionDenied(
                        dotted,
                        f"{dotted!r} reaches module {obj.__name__!r} through {path!r}; name it by its own path",
                    )
                container = obj
        if isinstance(obj, ModuleType):
            raise PermissionDenied(dotted, f"{dotted!r} is a module, not a callable")
        self._check_origin(dotted, obj, container)
        return obj

    def _check_origin(self, dotted: str, obj: Any, container: ModuleType) -> None:
        origin = getattr(obj, "__module__", None)
        if not isinstance(origin, str):
            origin = getattr(type(obj), "__module__", None)
        if not isinstance(origin, str) or origin == container.__name__:
            return
        if sys.modules.get(origin) is container:
            return
        package = container.__name__ + "."
        if origin.startswith(package):
            return
        qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", "")
        if isinstance(qualname, str) and qualname and self.allows(f"{origin}.{qualname}"):
            return
        raise PermissionDenied(
            dotted,
            f"{dotted!r} is defined in {origin!r}, outside {container.__name__!r}; allow it by its own name",
        )
