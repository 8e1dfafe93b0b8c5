"""The allowlist of arbitrary calls (``pool.python.call`` / ``create``): deny by default.

A pattern is a dotted name (``math.sqrt``: that name only) or a module followed by ``.*``
(``numpy.*``: the functions and classes module ``numpy`` itself publishes, one level: its ``__all__``
where it has one; never a submodule, which must be listed itself, ``numpy.linalg.*``). No wildcard
matches a name of the shipped deny list (denylist.py: process execution, pickle loading, the
environment, import machinery, native code, file writing), which only an exact pattern grants; the
``NEVER`` names (``builtins.getattr``, ``builtins.exec`` ...) no pattern grants, wherever they are
re-exported. A name is checked against the list before anything is imported; only the allowed name
and its parent packages are ever imported. Resolving then refuses:

- segments starting with ``_`` (no dunders, no private helpers);
- a module reached as an attribute under another name (``somepkg.os``: a module must be reached by
  its own dotted name, so an allowed package cannot be used as a path to modules it imported);
- a callable defined outside the module that holds it, outside that module's package and outside
  the allowlist (a re-export such as ``from os import system`` inside an allowed module);
- an object that is a deny-list entry under another name (found by identity and by origin);
- modules themselves, which are not callable.

The host applies the same rules first (src/pool/allowlist.ts); docs/security.md has the threat model."""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
from types import ModuleType

from .denylist import NEVER, WILDCARD_DENY
from .errors import PermissionDenied

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MAX_NAME = 512
_EXACT = "; no wildcard grants it: name it exactly in allow"


def denied_by(name: str, entries: tuple[str, ...]) -> str | None:
    """The deny entry that covers the dotted ``name``, or None."""
    for entry in entries:
        if entry.endswith(".**"):
            base = entry[:-3]
            if name == base or name.startswith(base + "."):
                return entry
        elif entry.endswith(".*"):
            base = entry[:-1]
            if name.startswith(base) and "." not in name[len(base) :]:
                return entry
        elif name == entry or name.startswith(entry + "."):
            return entry
    return None


_identity_cache: dict[tuple[str, ...], tuple[int, dict[int, str]]] = {}


def _denied_ids(entries: tuple[str, ...]) -> dict[int, str]:
    """id() of every exact entry that is reachable now without importing anything, by entry."""
    key = entries
    cached = _identity_cache.get(key)
    if cached is not None and cached[0] == len(sys.modules):
        return cached[1]
    ids: dict[int, str] = {}
    for entry in entries:
        if entry.endswith("*"):
            continue
        parts = entry.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            module = sys.modules.get(".".join(parts[:cut]))
            if module is None:
                continue
            obj: Any = module
            try:
                for segment in parts[cut:]:
                    obj = getattr(obj, segment)
            except Exception:  # noqa: BLE001 - any failure: the entry is not reachable now
                break
            ids[id(obj)] = entry
            break
    _identity_cache[key] = (len(sys.modules), ids)
    return ids


def denied_object(obj: Any, entries: tuple[str, ...]) -> str | None:
    """The deny entry ``obj`` is, whatever name reached it: by identity, or by where it was defined."""
    entry = _denied_ids(entries).get(id(obj))
    if entry is not None:
        return entry
    origin = getattr(obj, "__module__", None)
    if not isinstance(origin, str):
        return None
    qualname = getattr(obj, "__qualname__", None)
    full = f"{origin}.{qualname}" if isinstance(qualname, str) else None
    for entry in entries:
        if entry.endswith(".**"):
            base = entry[:-3]
            if origin == base or origin.startswith(base + "."):
                return entry
        elif entry.endswith(".*"):
            if origin == entry[:-2]:
                return entry
        elif full is not None and (full == entry or full.startswith(entry + ".")):
            return entry
    return None


def check_pattern(pattern: str) -> str | None:
    """What is wrong with ``pattern``, or None."""
    body = pattern[:-2] if pattern.endswith(".*") else pattern
    if body in ("", "*"):
        return f"{pattern!r} would allow everything"
    problem = _check_segments(body)
    if problem is None and not pattern.endswith(".*") and denied_by(pattern, NEVER) is not None:
        return f"names {pattern!r}, which is on the deny list ({denied_by(pattern, NEVER)}): no pattern grants it"
    return problem


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
        return self.grant(name) is not None

    def grant(self, name: str) -> str | None:
        """How ``name`` is granted: ``"exact"``, ``"wildcard"``, or None (denied)."""
        if denied_by(name, NEVER) is not None:
            return None
        wildcard = False
        for pattern in self.patterns:
            if pattern == name:
                return "exact"
            if pattern.endswith(".*"):
                base = pattern[:-1]
                if name.startswith(base) and "." not in name[len(base) :]:
                    wildcard = True
        if wildcard and denied_by(name, WILDCARD_DENY) is None:
            return "wildcard"
        return None

    def _wildcard_matches(self, name: str) -> bool:
        for pattern in self.patterns:
            if pattern.endswith(".*") and name.startswith(pattern[:-1]) and "." not in name[len(pattern) - 1 :]:
                return True
        return False

    def check(self, name: object) -> str:
        """Raise PermissionDenied unless ``name`` is a well-formed, allowed dotted name."""
        if not isinstance(name, str):
            raise PermissionDenied(repr(name), f"a callable's name must be a string, got {type(name).__name__}")
        problem = check_name(name)
        if problem is not None:
            raise PermissionDenied(name, f"{name!r} {problem}")
        if self.grant(name) is None:
            never = denied_by(name, NEVER)
            if never is not None:
                raise PermissionDenied(name, f"{name!r} is on the deny list ({never}); no allow pattern grants it")
            entry = denied_by(name, WILDCARD_DENY)
            if entry is not None and self._wildcard_matches(name):
                raise PermissionDenied(name, f"{name!r} is on the deny list ({entry}){_EXACT}")
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
        exact = self.grant(dotted) == "exact"
        if not exact:
            published = getattr(container, "__all__", None)
            if isinstance(published, (list, tuple)) and parts[-1] not in published:
                raise PermissionDenied(
                    dotted,
                    f"{dotted!r} is not in {container.__name__}.__all__; a wildcard grants what a module publishes",
                )
        never = denied_object(obj, NEVER)
        if never is not None:
            raise PermissionDenied(dotted, f"{dotted!r} is the deny-listed {never}; no allow pattern grants it")
        entry = None if exact else denied_object(obj, WILDCARD_DENY)
        if entry is not None:
            raise PermissionDenied(dotted, f"{dotted!r} is the deny-listed {entry}{_EXACT}")
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
