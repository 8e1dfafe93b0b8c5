"""Tables: pandas, pyarrow and polars tables cross as Apache Arrow IPC stream bytes.

A table returned or yielded by a tool is written once into an Arrow IPC stream, which travels as an
attachment (large) or inline (small) in a TABLE extension; Node reads it with ``apache-arrow`` without
another copy. A table from Node arrives as a ``pyarrow.Table`` over the received bytes, converted to
pandas or polars when the parameter is annotated so (``conversions.py``). None of these packages is
imported until such a value is met; docs/data.md has the mapping of column types."""

from __future__ import annotations

import os

from .errors import EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

PYARROW_MISSING = (
    "pyarrow is not installed in this worker's Python (tables cross as Apache Arrow): "
    "install it with `pip install pyarrow` (or `pip install snakepit-bridge[arrow]`)"
)
HOST_ARROW_MISSING = (
    "the Node host cannot read Arrow tables without the apache-arrow package: "
    "install it there with `npm install apache-arrow`"
)

#: (top-level package, class name) of the types sent as tables (subclasses too).
_TABLE_TYPES = frozenset(
    {
        ("pyarrow", "Table"),
        ("pyarrow", "RecordBatch"),
        ("pandas", "DataFrame"),
        ("pandas", "Series"),
        ("polars", "DataFrame"),
        ("polars", "Series"),
    }
)


def _table_key(value: Any) -> tuple[str, str] | None:
    for cls in type(value).__mro__:
        key = (cls.__module__.partition(".")[0], cls.__name__)
        if key in _TABLE_TYPES:
            return key
    return None


def is_table(value: Any) -> bool:
    return _table_key(value) is not None


def is_missing(value: Any) -> bool:
    """Is this ``pd.NA``? (It crosses as None, like a null cell.)"""
    cls = type(value)
    return cls.__name__ == "NAType" and cls.__module__.startswith("pandas")


def _type_name(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__.partition('.')[0]}.{cls.__qualname__}"


def import_pyarrow(what: str) -> Any:
    try:
        import pyarrow
    except ImportError:
        raise EncodeError(f"cannot encode a {what}: {PYARROW_MISSING}") from None
    return pyarrow


def as_arrow(value: Any) -> Any:
    """The table as a ``pyarrow.Table`` (without copying the columns where the library allows)."""
    key = _table_key(value)
    name = _type_name(value)
    pa = import_pyarrow(name)
    try:
        if key == ("pyarrow", "Table"):
            return value
        if key == ("pyarrow", "RecordBatch"):
            return pa.Table.from_batches([value])
        if key == ("pandas", "DataFrame"):
            # preserve_index=None: a default RangeIndex is kept as metadata only; any other index
            # becomes columns (named after its levels, or __index_level_N__).
            return pa.Table.from_pandas(value, preserve_index=None)
        if key == ("pandas", "Series"):
            return pa.Table.from_pandas(value.to_frame(), preserve_index=None)
        if key == ("polars", "DataFrame"):
            return value.to_arrow()
        if key == ("polars", "Series"):
            return value.to_frame().to_arrow()
    except EncodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - a column Arrow cannot type is the user's to fix: say which
        raise EncodeError(f"cannot encode a {name} as an Arrow table: {type(exc).__name__}: {exc}") from None
    raise EncodeError(f"cannot encode a value of Python type {name}")


def table_to_ipc(value: Any) -> memoryview:
    """The table as Arrow IPC stream bytes, written once into a buffer of the exact size."""
    if os.environ.get("SNAKEPIT_HOST_ARROW") == "0":
        raise EncodeError(f"cannot send a {_type_name(value)}: {HOST_ARROW_MISSING}")
    table = as_arrow(value)
    import pyarrow as pa

    # Measure first (no data is copied), then write once into a buffer of that size: a growing
    # output stream would copy what it holds at every growth.
    mock = pa.MockOutputStream()
    with pa.ipc.new_stream(mock, table.schema) as writer:
        writer.write_table(table)
    buf = pa.allocate_buffer(mock.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buf), table.schema) as writer:
        writer.write_table(table)
    return memoryview(buf)


class ArrowUnavailable:
    """An Arrow table that reached a worker without pyarrow. It holds the IPC bytes (``ipc``); any
    other use raises ImportError naming what to install."""

    __slots__ = ("ipc",)

    def __init__(self, ipc: bytes | memoryview) -> None:
        self.ipc = ipc

    def __getattr__(self, name: str) -> Any:
        raise ImportError(f"an Arrow table arrived, but {PYARROW_MISSING}")

    def __len__(self) -> int:
        raise ImportError(f"an Arrow table arrived, but {PYARROW_MISSING}")

    def __iter__(self) -> Any:
        raise ImportError(f"an Arrow table arrived, but {PYARROW_MISSING}")

    def __repr__(self) -> str:
        return f"<ArrowUnavailable: {len(self.ipc)} bytes of Arrow IPC; pyarrow is not installed>"


def table_from_ipc(ipc: bytes | memoryview) -> Any:
    """A ``pyarrow.Table`` over the IPC bytes (no copy), or ``ArrowUnavailable`` without pyarrow."""
    try:
        import pyarrow as pa
    except ImportError:
        return ArrowUnavailable(ipc)
    return pa.ipc.open_stream(pa.py_buffer(ipc)).read_all()  # datatypes.decode_table words a failure


class PendingTable:
    """A table in a frame whose attachments are still in the pipe: its ``bytes`` object exists (the
    attachment is read straight into it) but is not filled yet. ``resolve_tables`` replaces it by the
    table once the frame is read, so that the table is read over those bytes without a copy."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


def resolve_tables(value: Any, depth: int = 0) -> Any:
    """``value`` with each PendingTable (in lists and dict values, as decoded) replaced by its table."""
    t = type(value)
    if t is PendingTable:
        return table_from_ipc(value.data)
    if depth > 64:
        return value
    if t is list:
        for i, item in enumerate(value):
            new = resolve_tables(item, depth + 1)
            if new is not item:
                value[i] = new
    elif t is dict:
        for key, item in value.items():
            new = resolve_tables(item, depth + 1)
            if new is not item:
                value[key] = new
    return value
