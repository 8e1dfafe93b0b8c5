"""Tables, tensors and the added NumPy dtypes through both codecs; annotation conversions; the bridge
importing none of pandas, pyarrow, polars or torch at start; missing-package errors (the package's
import blocked through sys.modules)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from snakepit_bridge.adapter import ToolSpec, _ToolMark
from snakepit_bridge.codecs import make_codec
from snakepit_bridge.errors import EncodeError, InvalidArguments
from snakepit_bridge.frame_writer import FrameParts
from snakepit_bridge.tables import ArrowUnavailable

CODECS = ["msgpack", "json"]


def roundtrip(codec: str, value: Any) -> Any:
    c = make_codec(codec)
    out = c.encode([value])
    data = b"".join(bytes(p) for p in out.parts) if isinstance(out, FrameParts) else out
    return c.decode(data)[0]


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "f": [1.5, np.nan, 3.0],
            "s": np.array(["a", None, "c"], dtype=object),
            "n": pd.array([1, pd.NA, 3], dtype="Int64"),
            "t": pd.to_datetime(["2024-01-01", None, "2024-01-03"]).tz_localize("UTC"),
            "c": pd.Categorical(["x", "y", None]),
        }
    )


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("lib", ["pandas", "pyarrow", "polars", "recordbatch"])
def test_tables_arrive_as_arrow_tables_with_nulls(codec: str, lib: str) -> None:
    df = frame()
    value: Any = {
        "pandas": df,
        "pyarrow": pa.Table.from_pandas(df),
        "polars": pl.from_pandas(df),
        "recordbatch": pa.RecordBatch.from_pandas(df),
    }[lib]
    got = roundtrip(codec, value)
    assert isinstance(got, pa.Table)
    assert got.column("f").to_pylist() == [1.5, None, 3.0]
    assert got.column("s").to_pylist() == ["a", None, "c"]
    assert got.column("n").to_pylist() == [1, None, 3]
    assert got.column("t").to_pylist()[1] is None
    assert got.column("c").to_pylist() == ["x", "y", None]


@pytest.mark.parametrize("codec", CODECS)
def test_large_tables_travel_as_attachments(codec: str) -> None:
    df = pd.DataFrame({"x": np.arange(50_000, dtype="f8")})
    out = make_codec("msgpack").encode([df])
    assert isinstance(out, FrameParts), "a table of 400 KB is an attachment"
    got = roundtrip(codec, df)
    assert got.column("x").to_pylist()[-1] == 49_999.0


def test_pd_na_is_none() -> None:
    for codec in CODECS:
        assert roundtrip(codec, [pd.NA, 1]) == [None, 1]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    "arr",
    [
        np.array([[1.5, -0.0], [np.inf, 65504]], dtype="f2"),
        np.array(["2024-02-29T12:00:00.123456789", "NaT"], dtype="M8[ns]"),
        np.array(["2024-02-29", "NaT"], dtype="M8[D]"),
        np.array([1, -2], dtype="m8[us]"),
        np.array([["a", "ünï"], ["", "😀x"]]),
        np.array([True, False]),
        np.asfortranarray(np.arange(6, dtype="i4").reshape(2, 3)),
        np.arange(10, dtype="i8")[::3],
        np.array(["a", "bc"], dtype=">U2"),
    ],
)
def test_added_dtypes_roundtrip(codec: str, arr: Any) -> None:
    got = roundtrip(codec, arr)
    assert got.dtype == arr.dtype.newbyteorder("=") or got.dtype == arr.dtype
    assert got.shape == arr.shape
    np.testing.assert_array_equal(got, arr)
    assert got.flags.writeable


def test_object_string_arrays_become_fixed_width_and_others_are_refused() -> None:
    for codec in CODECS:
        got = roundtrip(codec, np.array(["x", "yz"], dtype=object))
        assert got.dtype == np.dtype("<U2")
        with pytest.raises(EncodeError, match="dtype object holding int"):
            roundtrip(codec, np.array(["x", 1], dtype=object))


def _spec(fn: Any) -> ToolSpec:
    return ToolSpec.from_function(fn, _ToolMark(None, None))


def test_string_annotations_resolve_through_the_module() -> None:
    ns: dict[str, Any] = {"pd": pd}
    exec("def tool(a: 'pd.DataFrame | None', b: 'torch.Tensor', c: 'int'): pass", ns)
    spec = _spec(ns["tool"])
    assert set(spec.converters) == {"a", "b"}
    plain = _spec(lambda x, y=1: None)
    assert plain.converters == {} and plain.simple_names is not None


def test_missing_pyarrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    for codec in CODECS:
        with pytest.raises(EncodeError, match=r"pandas\.DataFrame.*pip install pyarrow"):
            make_codec(codec).encode([pd.DataFrame({"x": [1]})])
    monkeypatch.undo()
    data = make_codec("msgpack").encode([pa.table({"x": [1]})])
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    got = make_codec("msgpack").decode(data)[0]
    assert isinstance(got, ArrowUnavailable)
    with pytest.raises(ImportError, match="pip install pyarrow"):
        got.num_rows  # noqa: B018

    def tool(df: pd.DataFrame) -> None:
        pass

    with pytest.raises(InvalidArguments, match="pip install pyarrow"):
        _spec(tool).bind({"df": got})


def test_host_without_apache_arrow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SNAKEPIT_HOST_ARROW", "0")
    with pytest.raises(EncodeError, match="npm install apache-arrow"):
        make_codec("msgpack").encode([pa.table({"x": [1]})])


def test_the_bridge_imports_no_table_or_tensor_package_at_start() -> None:
    code = (
        "import sys, snakepit_bridge.worker, snakepit_bridge.codecs, snakepit_bridge.json_codec;"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'polars', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_dates_in_tables_keep_their_types() -> None:
    df = pd.DataFrame({"d": [dt.date(2024, 2, 29), None], "dur": pd.to_timedelta(["1s", None])})
    got = roundtrip("msgpack", df)
    assert str(got.schema.field("d").type) == "date32[day]"
    assert got.column("dur").to_pylist() == [dt.timedelta(seconds=1), None]


def test_string_arrays_without_numpy_are_nested_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    import snakepit_bridge.datatypes as datatypes

    data = make_codec("msgpack").encode([np.array([["a", "ünï"], ["", "😀x"]])])
    monkeypatch.setattr(datatypes, "_numpy", None)
    assert make_codec("msgpack").decode(data)[0] == [["a", "ünï"], ["", "😀x"]]
