"""Torch tensors across the codecs and as converted arguments (tests/test_tables.py has the tables).
Skipped where torch is not installed; the dev environment installs it (``torch==2.13.0``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from test_tables import CODECS, roundtrip

from snakepit_bridge.adapter import ToolSpec, _ToolMark
from snakepit_bridge.errors import EncodeError

torch = pytest.importorskip("torch")


def _spec(fn: Any) -> ToolSpec:
    return ToolSpec.from_function(fn, _ToolMark(None, None))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    "t",
    [
        torch.arange(6, dtype=torch.float32).reshape(2, 3),
        torch.tensor([-(2**62), 2**53 + 1]),
        torch.tensor([True, False]),
        torch.arange(6, dtype=torch.float32).reshape(2, 3).t(),
        torch.arange(10, dtype=torch.int16)[::3],
        torch.ones(2, requires_grad=True) * 3,
    ],
)
def test_tensors_cross_as_arrays(codec: str, t: Any) -> None:
    got = roundtrip(codec, t)
    assert isinstance(got, np.ndarray)
    np.testing.assert_array_equal(got, t.detach().numpy())


@pytest.mark.parametrize("codec", CODECS)
def test_bfloat16_crosses_as_its_bits_and_returns_as_a_tensor(codec: str) -> None:
    t = torch.tensor([[1.5, -2.0], [3.140625, 0.0]], dtype=torch.bfloat16)
    got = roundtrip(codec, t)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.bfloat16
    assert torch.equal(got, t)


def test_a_tensor_on_another_device_is_refused() -> None:
    for codec in CODECS:
        with pytest.raises(EncodeError, match=r"device 'meta'.*tensor\.cpu\(\)"):
            roundtrip(codec, torch.zeros(3, device="meta"))


def test_arguments_are_converted_by_annotation() -> None:
    def tool(a: pd.DataFrame, b: pl.DataFrame, c: pa.Table, d: torch.Tensor, e: pd.Series, f: int = 0) -> None:
        pass

    spec = _spec(tool)
    assert spec.simple_names is None, "converted tools take the general binding"
    table = pa.table({"x": [1, 2]})
    kwargs = spec.bind({"a": table, "b": table, "c": table, "d": np.arange(3), "e": table, "f": 1})
    assert isinstance(kwargs["a"], pd.DataFrame)
    assert isinstance(kwargs["b"], pl.DataFrame)
    assert kwargs["c"] is table
    assert isinstance(kwargs["d"], torch.Tensor) and kwargs["d"].tolist() == [0, 1, 2]
    assert isinstance(kwargs["e"], pd.Series) and kwargs["e"].tolist() == [1, 2]
    assert kwargs["f"] == 1
