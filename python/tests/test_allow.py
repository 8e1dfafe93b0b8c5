"""The allowlist: deny by default, nothing imported before the check, no reaching around it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from session_harness import call, err, ok, start

from snakepit_bridge.allow import Allowlist, check_name, check_pattern
from snakepit_bridge.errors import PermissionDenied

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_patterns_and_names_are_validated() -> None:
    assert check_pattern("numpy.*") is None
    assert check_pattern("math.sqrt") is None
    assert check_pattern("*") is not None
    assert check_pattern(".*") is not None
    assert check_pattern("os._exit") is not None
    assert check_pattern("a b") is not None
    assert check_name("math") is not None, "a bare module is not a callable name"
    assert check_name("math.__dict__") is not None
    with pytest.raises(ValueError, match="would allow everything"):
        Allowlist(["*"])


def test_matching_is_exact_or_one_level_below_a_module() -> None:
    allow = Allowlist(["numpy.*", "math.sqrt"])
    assert allow.allows("numpy.sqrt")
    assert not allow.allows("numpy.linalg.norm"), "a wildcard never reaches into a submodule"
    assert allow.allows("math.sqrt")
    assert not allow.allows("math.floor")
    assert not allow.allows("numpyx.evil")
    assert not allow.allows("numpy")


def test_denied_names_are_never_imported() -> None:
    sys.modules.pop("forbidden_mod", None)
    with pytest.raises(PermissionDenied, match="not allowed"):
        Allowlist(["math.*"]).resolve("forbidden_mod.run")
    with pytest.raises(PermissionDenied, match="empty"):
        Allowlist([]).resolve("forbidden_mod.run")
    assert "forbidden_mod" not in sys.modules


def test_resolution_refuses_to_reach_around_the_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(FIXTURES))
    allow = Allowlist(["reexports.*", "math.sqrt", "os.path.*"])
    assert allow.resolve("reexports.own")(4) == 8
    assert allow.resolve("reexports.Box")(3).v == 3
    with pytest.raises(PermissionDenied, match="not allowed"):
        allow.resolve("reexports.json.loads")
    with pytest.raises(PermissionDenied, match="reaches module 'json'"):
        Allowlist(["reexports.json.*"]).resolve("reexports.json.loads")
    with pytest.raises(PermissionDenied, match="defined in"):
        allow.resolve("reexports.join")
    with pytest.raises(PermissionDenied, match="private segment"):
        allow.resolve("reexports.__builtins__")
    assert allow.resolve("math.sqrt")(9.0) == 3.0
    assert allow.resolve("os.path.join")("a", "b") == "a/b", "os.path is posixpath by its own registered name"


def test_a_module_is_not_a_callable() -> None:
    with pytest.raises(PermissionDenied, match="is a module"):
        Allowlist(["xml.*"]).resolve("xml.dom")
    with pytest.raises(PermissionDenied, match="is a module"):
        Allowlist(["os.path"]).resolve("os.path")


def test_the_worker_checks_before_importing() -> None:
    w = start(allow=["math.*", "collections.*"])
    try:
        args = {"name": "forbidden_mod.run", "args": [], "kwargs": {}, "mode": "auto"}
        e = err(call(w, 1, "$python.call", args))
        assert e["kind"] == "permission_denied"
        assert e["target"] == "forbidden_mod.run"
        assert ok(call(w, 2, "imported", {"name": "forbidden_mod"})) is False
        sqrt = {"name": "math.sqrt", "args": [16], "kwargs": {}, "mode": "auto"}
        assert ok(call(w, 3, "$python.call", sqrt)) == 4.0
        hypot = {"name": "math.hypot", "args": [3, 4], "kwargs": {}, "mode": "value"}
        assert ok(call(w, 4, "$python.call", hypot)) == 5.0
        create = {"name": "collections.Counter", "args": ["abca"], "kwargs": {}}
        counter = ok(call(w, 5, "$python.create", create, session="s"))
        assert counter["type"] == "collections.Counter"
        most = {"ref": counter, "method": "most_common", "args": [1], "kwargs": {}, "mode": "auto"}
        assert ok(call(w, 6, "$ref.call", most, session="s")) == [["a", 2]]
        outside = err(call(w, 7, "$python.create", create))
        assert "not called in a session" in outside["message"]
        not_class = err(call(w, 8, "$python.create", {**create, "name": "math.sqrt"}, session="s"))
        assert "not a class" in not_class["message"]
    finally:
        w.close()


def test_wildcards_grant_what_a_module_publishes_never_the_deny_list(monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    assert "detect_encoding" not in json.__all__
    allow = Allowlist(["json.*", "os.path.*", "numpy.*"])
    assert allow.resolve("json.dumps")([1]) == "[1]"
    with pytest.raises(PermissionDenied, match="not in json.__all__"):
        allow.resolve("json.detect_encoding")
    with pytest.raises(PermissionDenied, match="deny list"):
        allow.resolve("os.path.expandvars")
    with pytest.raises(PermissionDenied, match="deny list"):
        allow.resolve("numpy.load")
    assert Allowlist(["numpy.load"]).resolve("numpy.load") is not None, "named exactly"
    with pytest.raises(PermissionDenied, match="no allow pattern grants it"):
        Allowlist(["builtins.*"]).resolve("builtins.getattr")
    with pytest.raises(ValueError, match="no pattern grants it"):
        Allowlist(["builtins.exec"])
    # A deny-listed object under an innocent name is found by identity.
    monkeypatch.syspath_prepend(str(FIXTURES.parent.parent.parent / "test" / "fixtures"))
    sys.modules.pop("hostile_lib", None)
    with pytest.raises(PermissionDenied):
        Allowlist(["hostile_lib.*", "numpy.*"]).resolve("hostile_lib.np_loader")
    with pytest.raises(PermissionDenied):
        Allowlist(["hostile_lib.run_code"]).resolve("hostile_lib.run_code")  # exec under another name
