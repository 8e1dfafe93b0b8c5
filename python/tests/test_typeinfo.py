"""Annotations as type trees (typeinfo.py), and that a worker computes them only when asked."""

# ruff: noqa: UP007, UP045 - Optional and Union are annotation forms under test

from __future__ import annotations

import datetime
import decimal
import enum
import os
import subprocess
import sys
from collections.abc import AsyncGenerator, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import (
    Annotated,
    Any,
    ClassVar,
    Literal,
    NamedTuple,
    NewType,
    Optional,
    TypedDict,
    TypeVar,
    Union,
)

if sys.version_info >= (3, 11):
    from typing import NotRequired
else:  # Python 3.10: the backport, as an adapter there would use it
    from typing_extensions import NotRequired

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import BaseModel

from snakepit_bridge.adapter import ToolSpec, _ToolMark
from snakepit_bridge.signature import EMPTY
from snakepit_bridge.typeinfo import describe_type

INT = {"kind": "int"}
STR = {"kind": "str"}
NONE = {"kind": "none"}


class Shade(enum.IntEnum):
    DARK = 1
    LIGHT = 2


class Pairs(enum.Enum):
    A = (1, 2)


class Movie(TypedDict, total=False):
    title: str


class Strict(TypedDict):
    year: int
    note: NotRequired[str]


@dataclass
class Node:
    value: int
    children: list[Node] = field(default_factory=list)


@dataclass
class WithClassVar:
    a: int
    limit: ClassVar[int] = 3
    b: int = field(default=1, init=False)


class Row(NamedTuple):
    a: int
    b: str = ""


class Model(BaseModel):
    x: float
    y: Optional[float] = None


UserId = NewType("UserId", int)
T = TypeVar("T")


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        (EMPTY, {"kind": "unknown"}),
        (Any, {"kind": "unknown", "text": "Any"}),
        (int, INT),
        (float, {"kind": "float"}),
        (bool, {"kind": "bool"}),
        (None, NONE),
        (bytes, {"kind": "bytes"}),
        (datetime.datetime, {"kind": "datetime"}),
        (datetime.date, {"kind": "date"}),
        (decimal.Decimal, {"kind": "decimal"}),
        (list[int], {"kind": "list", "item": INT}),
        (Sequence[str], {"kind": "list", "item": STR}),
        (list, {"kind": "list", "item": {"kind": "unknown"}}),
        (tuple[int, str], {"kind": "tuple", "items": [INT, STR]}),
        (tuple[int, ...], {"kind": "list", "item": INT}),
        (dict[str, int], {"kind": "dict", "key": STR, "value": INT}),
        (Mapping[int, str], {"kind": "dict", "key": INT, "value": STR}),
        (set[str], {"kind": "set", "item": STR}),
        (frozenset[int], {"kind": "set", "item": INT}),
        (Optional[int], {"kind": "union", "options": [INT, NONE]}),
        (int | None, {"kind": "union", "options": [INT, NONE]}),
        (Union[int, Union[str, int]], {"kind": "union", "options": [INT, STR]}),
        (Literal["a", 1, True, None], {"kind": "literal", "values": ["a", 1, True, None]}),
        (Shade, {"kind": "enum", "name": "Shade", "values": [1, 2]}),
        (Annotated[int, "meta"], INT),
        (UserId, INT),
        (T, {"kind": "unknown", "text": "T"}),
        (npt.NDArray[np.float64], {"kind": "ndarray", "dtype": "float64"}),
        (np.ndarray, {"kind": "ndarray", "dtype": None}),
        (np.float32, {"kind": "float"}),
        (np.floating, {"kind": "float"}),
        (np.int64, INT),
        (np.bool_, {"kind": "bool"}),
        (np.complex128, {"kind": "unknown", "text": "complex128"}),
        (Iterator[int], {"kind": "iterator", "item": INT, "async": False}),
        (Generator[str, None, None], {"kind": "iterator", "item": STR, "async": False}),
        (AsyncGenerator[int, None], {"kind": "iterator", "item": INT, "async": True}),
        ("NotDefinedAnywhere", {"kind": "unknown", "text": "NotDefinedAnywhere"}),
        # Values JSON and TypeScript cannot write as literals: unknown, never a broken catalogue.
        (Pairs, {"kind": "unknown", "text": "Pairs"}),
        (Literal[b"x"], {"kind": "unknown", "text": "Literal[b'x']"}),
        (complex, {"kind": "unknown", "text": "complex"}),
    ],
)
def test_each_form(annotation: Any, expected: dict[str, Any]) -> None:
    assert describe_type(annotation) == expected


def test_torch_tensor_is_an_ndarray() -> None:
    torch = pytest.importorskip("torch")
    assert describe_type(torch.Tensor) == {"kind": "ndarray", "dtype": None}


def test_structured_types() -> None:
    movie = describe_type(Movie)
    assert movie["source"] == "typeddict"
    assert movie["fields"] == [{"name": "title", "type": STR, "required": False}]
    assert describe_type(Strict)["fields"] == [
        {"name": "year", "type": INT, "required": True},
        {"name": "note", "type": STR, "required": False},
    ]
    node = describe_type(Node)
    assert node["source"] == "dataclass"
    assert node["fields"][1] == {
        "name": "children",
        "type": {"kind": "list", "item": {"kind": "ref", "name": "Node"}},
        "required": False,
    }
    assert describe_type(WithClassVar)["fields"] == [{"name": "a", "type": INT, "required": True}]
    row = describe_type(Row)
    assert (row["source"], [f["required"] for f in row["fields"]]) == ("namedtuple", [True, False])
    model = describe_type(Model)
    assert model["source"] == "pydantic"
    assert model["fields"][1] == {
        "name": "y",
        "type": {"kind": "union", "options": [{"kind": "float"}, NONE]},
        "required": False,
    }


def _tool(a: list[int], ctx: object, b: Optional[str] = None) -> Iterator[Row]:
    yield Row(1)


def test_tool_spec_describes_types_only_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = ToolSpec.from_function(_tool, _ToolMark(None, None))
    monkeypatch.delenv("SNAKEPIT_CATALOGUE_TYPES", raising=False)
    plain = spec.describe()
    assert "returns_schema" not in plain and all("schema" not in p for p in plain["params"])
    monkeypatch.setenv("SNAKEPIT_CATALOGUE_TYPES", "1")
    typed = spec.describe()
    # Strings from `from __future__ import annotations` are resolved; ctx is left out; a generator's
    # result is its yield type.
    assert [p["schema"] for p in typed["params"]] == [
        {"kind": "list", "item": INT},
        {"kind": "union", "options": [STR, NONE]},
    ]
    assert typed["returns_schema"]["name"] == "Row"


def test_a_worker_loads_no_typeinfo_unless_asked() -> None:
    fixture = Path(__file__).resolve().parents[2] / "test" / "fixtures" / "basic.py"
    code = (
        "import sys; from snakepit_bridge.adapter import load_adapter; _, t = load_adapter(sys.argv[1]); "
        "[s.describe() for s in t.values()]; print('snakepit_bridge.typeinfo' in sys.modules)"
    )
    env = {k: v for k, v in os.environ.items() if k != "SNAKEPIT_CATALOGUE_TYPES"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    out = subprocess.run(
        [sys.executable, "-c", code, str(fixture)], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False"], out.stderr
    env["SNAKEPIT_CATALOGUE_TYPES"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", code, str(fixture)], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True"]


def test_module_catalogue_reads_numpy_stubs() -> None:
    from snakepit_bridge.module_catalogue import describe_module

    functions = {f["name"]: f for f in describe_module("numpy.linalg")["functions"]}
    norm = {p["name"]: p for p in functions["norm"]["params"]}
    # Runtime signature: names, kinds, defaults; the shipped .pyi stub: the types, overloads merged.
    assert norm["ord"]["default"] is None
    # numpy 2.4's stub says float | Literal["fro", "nuc"] | None; 2.5's lists some integers as literals too.
    ord_schema = norm["ord"]["schema"]
    assert ord_schema["kind"] == "union"
    options = ord_schema["options"]
    assert {"kind": "float"} in options and NONE in options
    literals = [o for o in options if o["kind"] == "literal"]
    assert len(literals) == 1 and {"fro", "nuc"} <= set(literals[0]["values"])
    # numpy 2.4: NDArray[float64] | NDArray[Any]; 2.5 adds overloads with PEP 695 type parameters.
    inv = functions["inv"]["returns_schema"]
    assert inv["kind"] == "union"
    assert all(o["kind"] == "ndarray" for o in inv["options"])
    assert {"kind": "ndarray", "dtype": "float64"} in inv["options"]
    assert {"kind": "ndarray", "dtype": None} in inv["options"]
    assert functions["cholesky"]["params"][0]["kind"] == "positional_only"


def test_unions_gather_their_literals_and_drop_what_a_primitive_covers() -> None:
    assert describe_type(Union[Literal[True], bool]) == {"kind": "bool"}
    assert describe_type(Union[Literal["a"], Literal["b"], None]) == {
        "kind": "union",
        "options": [{"kind": "literal", "values": ["a", "b"]}, NONE],
    }
    # True is not 1 on the wire: a bool literal stays beside int; 2 goes, int takes it.
    assert describe_type(Union[int, Literal[True, 2, "x"]]) == {
        "kind": "union",
        "options": [{"kind": "int"}, {"kind": "literal", "values": [True, "x"]}],
    }
    assert describe_type(Union[float, Literal[1, "fro"]]) == {
        "kind": "union",
        "options": [{"kind": "float"}, {"kind": "literal", "values": ["fro"]}],
    }
