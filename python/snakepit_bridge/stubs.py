"""Annotations of a library function from the ``.pyi`` stub its package ships, for ``codegen --module``.

Compiled libraries rarely carry annotations at run time, but many ship stubs beside their sources
(``numpy/linalg/_linalg.pyi``). The stub is parsed with ``ast``; its imports and type aliases are run
one statement at a time (a statement that fails is skipped), then each annotation is evaluated in
that namespace and described by typeinfo.py. Overloads are merged: a parameter's type is the union
over the overloads, and so is the result."""

from __future__ import annotations

import ast
import inspect
import os
from typing import Any

from .typeinfo import Node, describe_type, union

_STATEMENTS = (ast.Import, ast.ImportFrom, ast.Assign, ast.AnnAssign, ast.ClassDef)


class Stub:
    def __init__(self, path: str, module_name: str) -> None:
        with open(path, encoding="utf-8") as f:
            self.tree = ast.parse(f.read(), path)
        self.namespace: dict[str, Any] = {"__name__": module_name}
        for node in self.tree.body:
            if isinstance(node, ast.AnnAssign) and node.value is None:
                continue
            if (
                isinstance(node, _STATEMENTS)
                or getattr(ast, "TypeAlias", None) is not None
                and isinstance(node, getattr(ast, "TypeAlias", ()))
            ):
                try:
                    exec(compile(ast.Module(body=[node], type_ignores=[]), path, "exec"), self.namespace)  # noqa: S102 - the stub's own imports and aliases
                except Exception:  # noqa: BLE001, S110 - a statement that does not run is skipped
                    pass
        self.functions: dict[str, list[ast.FunctionDef | ast.AsyncFunctionDef]] = {}
        for node in self.tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                self.functions.setdefault(node.name, []).append(node)

    def evaluate(self, annotation: ast.expr | None, local: dict[str, Any] | None = None) -> Node | None:
        """The type tree of one annotation of the stub; ``local`` holds the function's own type
        parameters (``def inv[ScalarT: np.inexact](...)``, Python 3.12+)."""
        if annotation is None:
            return None
        text = ast.unparse(annotation)
        try:
            value = self._eval(annotation, local)
        except Exception:  # noqa: BLE001 - a name the stub only declares
            return {"kind": "unknown", "text": text}
        return describe_type(value)

    def _eval(self, node: ast.expr, local: dict[str, Any] | None = None) -> Any:
        return eval(compile(ast.Expression(node), "<stub>", "eval"), self.namespace, local)  # noqa: S307 - an annotation of the stub

    def type_params(self, d: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, Any]:
        """The function's PEP 695 type parameters as typing objects (a bound or constraints that do not
        evaluate are left out)."""
        import typing

        out: dict[str, Any] = {}
        for tp in getattr(d, "type_params", None) or []:
            kind = type(tp).__name__
            if kind == "ParamSpec":
                out[tp.name] = typing.ParamSpec(tp.name)
            elif kind == "TypeVarTuple":
                out[tp.name] = typing.TypeVarTuple(tp.name)
            elif kind == "TypeVar":
                bound = getattr(tp, "bound", None)
                try:
                    if isinstance(bound, ast.Tuple):
                        out[tp.name] = typing.TypeVar(tp.name, *(self._eval(e, out) for e in bound.elts))
                        continue
                    out[tp.name] = typing.TypeVar(tp.name, bound=self._eval(bound, out) if bound is not None else None)
                except Exception:  # noqa: BLE001 - a bound the stub only declares
                    out[tp.name] = typing.TypeVar(tp.name)
        return out

    def signature(self, name: str) -> tuple[dict[str, Node], Node | None] | None:
        """Each parameter's type and the result's, merged over the overloads; None when the stub does
        not define ``name``."""
        defs = self.functions.get(name)
        if not defs:
            return None
        params: dict[str, list[Node]] = {}
        results: list[Node] = []
        for d in defs:
            a = d.args
            local = self.type_params(d)
            for arg in [*a.posonlyargs, *a.args, *a.kwonlyargs]:
                node = self.evaluate(arg.annotation, local)
                if node is not None:
                    params.setdefault(arg.arg, []).append(node)
            result = self.evaluate(d.returns, local)
            if result is not None:
                results.append(result)
        return {n: _union(ns) for n, ns in params.items()}, (_union(results) if results else None)


def _union(nodes: list[Node]) -> Node:
    """The union of the overloads' types; unknown when any of them is (the result would claim too much)."""
    merged = union(nodes)
    options = merged["options"] if merged["kind"] == "union" else [merged]
    return {"kind": "unknown"} if any(o["kind"] == "unknown" for o in options) else merged


_cache: dict[str, Stub | None] = {}


def stub_for(fn: Any) -> Stub | None:
    """The stub beside the file that defines ``fn`` (through ``__wrapped__``), when there is one."""
    try:
        source = inspect.getfile(inspect.unwrap(fn))
    except (TypeError, ValueError):
        return None
    path = os.path.splitext(source)[0] + ".pyi"
    if path not in _cache:
        module = getattr(inspect.getmodule(inspect.unwrap(fn)), "__name__", "stub")
        try:
            _cache[path] = Stub(path, module) if os.path.isfile(path) else None
        except (OSError, SyntaxError):
            _cache[path] = None
    return _cache[path]
