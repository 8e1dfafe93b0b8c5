"""The public functions of a library module with their runtime signatures, for ``snakepit codegen --module``.

Run by the command line, never by a worker: ``python -m snakepit_bridge.module_catalogue numpy.linalg``
prints one JSON object. Each function's parameters carry type trees (typeinfo.py) read from its
runtime annotations; most compiled libraries have none at run time, so those are ``unknown``."""

from __future__ import annotations

import importlib
import inspect
import json
import math
import sys
from typing import Any

from .signature import EMPTY, clean_doc
from .stubs import stub_for
from .typeinfo import describe_type

_PLAIN = (type(None), bool, int, float, str)


def _param(p: inspect.Parameter) -> dict[str, Any]:
    annotation = EMPTY if p.annotation is inspect.Parameter.empty else p.annotation
    entry: dict[str, Any] = {
        "name": p.name,
        "kind": p.kind.name.lower(),
        "required": p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD),
        "schema": describe_type(annotation),
    }
    if p.default is not inspect.Parameter.empty:
        if isinstance(p.default, _PLAIN) and not (isinstance(p.default, float) and not math.isfinite(p.default)):
            entry["default"] = p.default
        else:
            entry["default_repr"] = repr(p.default)
    return entry


def describe_module(name: str) -> dict[str, Any]:
    module = importlib.import_module(name)
    public = getattr(module, "__all__", None)
    names = sorted(public if isinstance(public, (list, tuple)) else (n for n in dir(module) if not n.startswith("_")))
    functions = []
    for attr in names:
        fn = getattr(module, attr, None)
        if fn is None or isinstance(fn, type) or inspect.ismodule(fn) or not callable(fn):
            continue
        try:
            sig = inspect.signature(fn)
            params: list[dict[str, Any]] | None = [_param(p) for p in sig.parameters.values()]
            ret = EMPTY if sig.return_annotation is inspect.Signature.empty else sig.return_annotation
        except (TypeError, ValueError):  # no signature (some builtins and ufuncs)
            params, ret = None, EMPTY
        stub = stub_for(fn)
        typed = stub.signature(attr) if stub is not None else None
        if typed is not None:
            # Runtime annotations win; the stub fills in what the runtime leaves unknown.
            stub_params, stub_result = typed
            for p in params or []:
                if p["schema"] == {"kind": "unknown"} and p["name"] in stub_params:
                    p["schema"] = stub_params[p["name"]]
            if ret is EMPTY and stub_result is not None:
                ret = stub_result
        doc = clean_doc(fn)
        functions.append(
            {
                "name": attr,
                "doc": doc.split("\n\n", 1)[0] if doc else "",
                "params": params,
                "returns_schema": ret if isinstance(ret, dict) else describe_type(ret),
            }
        )
    return {"module": name, "functions": functions}


if __name__ == "__main__":
    json.dump(describe_module(sys.argv[1]), sys.stdout, default=repr)
    sys.stdout.write("\n")
