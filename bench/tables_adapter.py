"""Bench adapter for bench/tables.ts: a mixed table (pyarrow, pandas, records) and a float32 tensor,
prepared outside the timed calls; consumers that receive them and report their size."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
from snakepit_bridge import tool

_prepared: dict[str, Any] = {}


def make_table(rows: int) -> pa.Table:
    """10 columns: 3 float64, 3 int64, 2 strings, a bool and a UTC timestamp."""
    rng = np.random.default_rng(1)
    ints = rng.integers(0, 1_000_000, size=rows)
    return pa.table(
        {
            "f0": rng.random(rows),
            "f1": rng.random(rows) * 1000,
            "f2": rng.standard_normal(rows),
            "i0": np.arange(rows, dtype="i8"),
            "i1": ints,
            "i2": ints % 97,
            "s0": pa.array([f"name-{i % 1000}" for i in range(rows)]),
            "s1": pa.array([f"{i:08x}" for i in ints.tolist()]),
            "b": ints % 2 == 0,
            "t": pa.array(np.arange(rows, dtype="i8") * 1_000_000 + 1_700_000_000_000_000, pa.timestamp("us", "UTC")),
        }
    )


@tool
def prepare(rows: int, tensor: int) -> dict[str, int]:
    _prepared.clear()
    table = make_table(rows)
    _prepared["arrow"] = table
    _prepared["pandas"] = table.to_pandas()
    records = table.to_pylist()
    for r in records:
        r["t"] = int(r["t"].timestamp() * 1e6)  # plain numbers: what a records or JSON path would send
    _prepared["records"] = records
    _prepared["tensor"] = torch.arange(tensor, dtype=torch.float32)
    return {"rows": table.num_rows}


@tool
def produce(kind: str) -> Any:
    return _prepared[kind]


@tool
def records_json() -> str:
    """The records as JSON text, as a JSON-based bridge would write them (for the peer's check)."""
    import json

    return json.dumps(_prepared["records"])


@tool
def take_table(t: pa.Table) -> int:
    return int(t.num_rows)


@tool
def take_frame(t: pd.DataFrame) -> int:
    return len(t)


@tool
def take_records(rows: list[dict[str, Any]]) -> int:
    return len(rows)


@tool
def take_tensor(t: torch.Tensor) -> int:
    return int(t.numel())


@tool
def release() -> None:
    _prepared.clear()
