"""Python object references: objects with no wire encoding that stay in their session on the worker.

A reference travels as the map ``{"$ref": id, "session": session_id, "type": "module.Class"}``, which
both codecs carry as a plain map. The host turns it into a handle; a handle sent back (as a call
argument) is turned into the object again, only within the session that holds it."""

from __future__ import annotations

import threading

from .errors import InvalidRef, TooManyRefs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

REF_KEY = "$ref"
_MAX_DEPTH = 64


def type_name(obj: object) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def is_marker(value: object) -> bool:
    return (
        type(value) is dict
        and len(value) == 3
        and REF_KEY in value
        and "session" in value
        and "type" in value
        and type(value[REF_KEY]) is int
    )


class RefTable:
    """The references of one session: id -> object, at most ``limit`` at once."""

    __slots__ = ("session_id", "limit", "_objects", "_expose", "_next", "_lock")

    def __init__(self, session_id: str, limit: int) -> None:
        self.session_id = session_id
        self.limit = limit
        self._objects: dict[int, Any] = {}
        # id -> the names a reference made with ctx.ref(obj, expose=[...]) exposes
        self._expose: dict[int, frozenset[str]] = {}
        self._next = 1
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._objects)

    def add(self, obj: object, type_label: str | None = None, expose: frozenset[str] | None = None) -> dict[str, Any]:
        """Keep ``obj`` and return the marker that stands for it on the wire. Objects that a reference
        may never stand for (frames, code, modules, functions...: capability.py) are refused."""
        from .capability import check_value

        check_value(obj, f"a reference to a {type_name(obj)}")
        with self._lock:
            if len(self._objects) >= self.limit:
                raise TooManyRefs(
                    f"session {self.session_id!r} already holds {self.limit} references (maxRefs); "
                    "release some before creating more"
                )
            ref_id = self._next
            self._next += 1
            self._objects[ref_id] = obj
            if expose is not None:
                self._expose[ref_id] = expose
        return {REF_KEY: ref_id, "session": self.session_id, "type": type_label or type_name(obj)}

    def expose_of(self, obj: object) -> frozenset[str] | None:
        """The names ``obj`` exposes when a reference to it was made with ``expose=[...]`` (then that
        list holds for every reference to the same object in this session), or None: the default rules."""
        for ref_id, names in list(self._expose.items()):
            if self._objects.get(ref_id) is obj:
                return names
        return None

    def get(self, ref_id: int) -> Any:
        try:
            return self._objects[ref_id]
        except KeyError:
            pass
        if 0 < ref_id < self._next:
            raise InvalidRef(f"reference {ref_id} of session {self.session_id!r} was released") from None
        raise InvalidRef(f"session {self.session_id!r} has no reference {ref_id}") from None

    def release(self, ids: list[int]) -> int:
        """Drop the objects of ``ids``; unknown ids are ignored. Returns how many were dropped."""
        dropped = 0
        with self._lock:
            for ref_id in ids:
                self._expose.pop(ref_id, None)
                if self._objects.pop(ref_id, None) is not None:
                    dropped += 1
        return dropped

    def clear(self) -> None:
        with self._lock:
            self._objects.clear()
            self._expose.clear()

    def resolve_marker(self, marker: dict[str, Any]) -> Any:
        owner = marker.get("session")
        if owner != self.session_id:
            raise InvalidRef(
                f"reference {marker[REF_KEY]} ({marker.get('type')}) belongs to session {owner!r}, "
                f"not to session {self.session_id!r}"
            )
        obj = self.get(marker[REF_KEY])
        from .capability import check_value

        check_value(obj, f"reference {marker[REF_KEY]}")
        return obj


def resolve(value: Any, table: RefTable | None, depth: int = 0) -> Any:
    """``value`` with every reference marker replaced by its object (containers are copied only
    where a marker was found). Without a session, any marker is an error."""
    kind = type(value)
    if kind is dict:
        if is_marker(value):
            if table is None:
                raise InvalidRef(
                    f"reference {value[REF_KEY]} ({value.get('type')}) was passed to a call outside its session"
                )
            return table.resolve_marker(value)
        if depth >= _MAX_DEPTH:
            return value
        out: dict[Any, Any] | None = None
        for key, item in value.items():
            new = resolve(item, table, depth + 1)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list or kind is tuple:
        if depth >= _MAX_DEPTH:
            return value
        items: list[Any] | None = None
        for i, item in enumerate(value):
            new = resolve(item, table, depth + 1)
            if new is not item:
                if items is None:
                    items = list(value)
                items[i] = new
        if items is None:
            return value
        return items if kind is list else tuple(items)
    return value
