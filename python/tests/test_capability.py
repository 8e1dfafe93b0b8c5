"""What a reference grants (capability.py): methods of the object's class, checked values."""

from __future__ import annotations

import builtins
import os
import sys
from typing import Any

import pytest

from snakepit_bridge.capability import attribute, bound_method, forbidden, normalise_expose
from snakepit_bridge.errors import PermissionDenied


class Thing:
    run = staticmethod(os.system)

    def __init__(self) -> None:
        self.value = 1
        self.hook = os.system

    def double(self, x: int) -> int:
        return 2 * x


def test_forbidden_kinds() -> None:
    def gen() -> Any:
        yield 1

    g = gen()
    for value in (
        sys._getframe(),
        gen.__code__,
        os,
        Thing,
        gen,
        builtins.exec,
        Thing().double,
        g.gi_frame,
        globals(),
        builtins.__dict__,
    ):
        assert forbidden(value) is not None, value
    for value in (1, "s", [1], {"a": 1}, Thing(), g):
        assert forbidden(value) is None, value


def test_a_method_is_bound_from_the_class_never_from_the_instance() -> None:
    t = Thing()
    assert bound_method(t, "double", None)(2) == 4
    t.double = os.system  # type: ignore[method-assign]
    assert bound_method(t, "double", None)(3) == 6, "the instance attribute is not what gets called"
    with pytest.raises(PermissionDenied, match="not a method"):
        bound_method(t, "hook", None)
    with pytest.raises(PermissionDenied, match="deny-listed"):
        bound_method(t, "run", None)


def test_expose_narrows_and_values_stay_checked() -> None:
    t = Thing()
    expose = normalise_expose(["value", "hook"])
    assert attribute(t, "value", expose) == 1
    with pytest.raises(PermissionDenied, match="not exposed"):
        bound_method(t, "double", expose)
    with pytest.raises(PermissionDenied, match="function or method"):
        attribute(t, "hook", expose)
    with pytest.raises(PermissionDenied, match="private"):
        normalise_expose(["__class__"])


def test_expose_must_be_a_list_of_names() -> None:
    for bad in ("value", 5, None.__class__):
        with pytest.raises(TypeError, match="expose must be a list of attribute names, got"):
            normalise_expose(bad)  # type: ignore[arg-type]
    assert normalise_expose(("value",)) == frozenset({"value"})
