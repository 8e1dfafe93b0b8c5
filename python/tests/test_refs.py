"""References on a real worker: ctx.ref, the $ref.* built-in tools, sessions and limits."""

from __future__ import annotations

from typing import Any

from session_harness import call, err, ok, start

from snakepit_bridge.refs import RefTable, is_marker, resolve


def _counter(w: Any, call_id: int, session: str, start_at: int = 5) -> dict[str, Any]:
    marker = ok(call(w, call_id, "counter", {"start": start_at}, session=session))
    assert is_marker(marker), marker
    return dict(marker)


def test_a_tool_returns_a_reference_and_its_methods_and_attributes_are_reachable() -> None:
    w = start()
    try:
        ref = _counter(w, 1, "s")
        assert ref["session"] == "s"
        assert ref["type"].endswith("Counter")
        args = {"ref": ref, "method": "add", "args": [3], "kwargs": {}, "mode": "auto"}
        assert ok(call(w, 2, "$ref.call", args, session="s")) == 8
        assert ok(call(w, 3, "$ref.get", {"ref": ref, "attr": "value", "mode": "auto"}, session="s")) == 8
        assert ok(call(w, 4, "read_counter", {"c": ref}, session="s")) == 8, "a reference argument becomes the object"
        child = ok(call(w, 5, "$ref.call", {**args, "method": "child", "args": []}, session="s"))
        assert is_marker(child), "a result with no wire encoding comes back as a reference"
        assert child["$ref"] != ref["$ref"]
        asynchronous = {**args, "method": "aget", "args": []}
        assert ok(call(w, 6, "$ref.call", asynchronous, session="s")) == 8, "coroutine methods are awaited"
        as_ref = ok(call(w, 7, "$ref.get", {"ref": ref, "attr": "value", "mode": "ref"}, session="s"))
        assert is_marker(as_ref) and as_ref["type"] == "int"
    finally:
        w.close()


def test_private_attributes_are_not_reachable() -> None:
    w = start()
    try:
        ref = _counter(w, 1, "s")
        for attr in ("_secret", "__class__", "__dict__"):
            e = err(call(w, 2, "$ref.get", {"ref": ref, "attr": attr, "mode": "auto"}, session="s"))
            assert e["kind"] == "permission_denied", e
        args = {"ref": ref, "method": "__init__", "args": [], "kwargs": {}, "mode": "auto"}
        assert err(call(w, 3, "$ref.call", args, session="s"))["kind"] == "permission_denied"
    finally:
        w.close()


def test_released_and_foreign_references_are_clear_errors() -> None:
    w = start()
    try:
        ref = _counter(w, 1, "s")
        other = err(call(w, 2, "read_counter", {"c": ref}, session="t"))
        assert other["kind"] == "invalid_ref"
        assert "belongs to session 's', not to session 't'" in other["message"]
        outside = err(call(w, 3, "read_counter", {"c": ref}))
        assert outside["kind"] == "invalid_ref"
        assert ok(call(w, 4, "$ref.release", {"ids": [ref["$ref"], 999]}, session="s")) == 1
        gone = err(call(w, 5, "read_counter", {"c": ref}, session="s"))
        assert gone["kind"] == "invalid_ref"
        assert "was released" in gone["message"]
    finally:
        w.close()


def test_references_are_bounded_per_session_and_freed_with_it() -> None:
    w = start(max_refs=2)
    try:
        _counter(w, 1, "s")
        _counter(w, 2, "s")
        e = err(call(w, 3, "counter", {"start": 0}, session="s"))
        assert e["kind"] == "too_many_refs"
        assert "maxRefs" in e["message"]
        _counter(w, 4, "other")  # the bound is per session
        from snakepit_bridge import protocol as P

        w.send([P.SESSION_END, "s"])
        _counter(w, 5, "s")
    finally:
        w.close()


def test_ref_outside_a_session_is_refused() -> None:
    w = start()
    try:
        e = err(call(w, 1, "counter", {"start": 0}))
        assert "not called in a session" in e["message"]
    finally:
        w.close()


def test_resolve_copies_only_containers_that_hold_markers() -> None:
    table = RefTable("s", 10)
    marker = table.add(object())
    plain = {"a": [1, 2, {"b": "c"}], "t": (1, 2)}
    assert resolve(plain, table) is plain
    mixed = {"keep": [1, 2], "refs": [marker, (marker,)]}
    out = resolve(mixed, table)
    assert out["keep"] is mixed["keep"]
    assert out["refs"][0] is table.get(marker["$ref"])
    assert isinstance(out["refs"][1], tuple)
    assert mixed["refs"][0] is marker, "the input is not modified"


def test_arguments_that_are_not_an_object_are_refused_without_harm() -> None:
    w = start()
    try:
        e = err(call(w, 1, "read_counter", [1, 2]))  # type: ignore[arg-type]
        assert e["kind"] == "invalid_arguments"
        assert ok(call(w, 2, "pid", {})) > 0
    finally:
        w.close()
