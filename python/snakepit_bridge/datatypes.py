"""Values that need more than plain MessagePack or JSON: NumPy arrays, big integers, dates, decimals.

Shared by both codecs. The constants are the ``data`` section of ``protocol.json`` (via ``protocol.py``), the
definition shared with the Node side; docs/data.md describes the mapping and the byte layouts."""

from __future__ import annotations

import datetime as _dt
import struct
import sys

from . import protocol
from .buffers import new_bytearray
from .errors import EncodeError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal
    from typing import Any, Final

EXT_TIMESTAMP: Final[int] = protocol.EXT_TIMESTAMP
EXT_NDARRAY: Final[int] = protocol.EXT_NDARRAY
EXT_BYTES_REF: Final[int] = protocol.EXT_BYTES_REF
EXT_BIGINT: Final[int] = protocol.EXT_BIGINT
EXT_DECIMAL: Final[int] = protocol.EXT_DECIMAL
EXT_SET: Final[int] = protocol.EXT_SET
EXT_DATE: Final[int] = protocol.EXT_DATE
EXT_TABLE: Final[int] = protocol.EXT_TABLE

ATTACHMENT_MARKER: Final[int] = protocol.ATTACHMENT_MARKER
ATTACHMENT_ALIGN: Final[int] = protocol.ATTACHMENT_ALIGN
ATTACHMENT_MIN: Final[int] = protocol.ATTACHMENT_MIN
NDARRAY_ATTACHED: Final[int] = protocol.NDARRAY_ATTACHED
DTYPE_CODES: Final[frozenset[str]] = frozenset(protocol.DTYPES)

#: Struct format character of each dtype, for the memoryview used when NumPy is absent.
_FORMATS: Final[dict[str, str]] = {
    "b1": "?",
    "i1": "b",
    "u1": "B",
    "i2": "h",
    "u2": "H",
    "i4": "i",
    "u4": "I",
    "i8": "q",
    "u8": "Q",
    "f2": "e",
    "f4": "f",
    "f8": "d",
    "bf16": "H",
}
#: Units of datetime64 and timedelta64 arrays that may cross (``<M8[ns]``, ``<m8[s]``...).
_TIME_UNITS: Final[frozenset[str]] = frozenset({"Y", "M", "W", "D", "h", "m", "s", "ms", "us", "ns", "ps", "fs", "as"})
#: Longest string of a ``<U`` array, in characters (a bound against absurd headers).
_MAX_STR_WIDTH: Final[int] = 1 << 24
_NATIVE: Final[str] = "<" if sys.byteorder == "little" else ">"
_EPOCH_ORDINAL: Final[int] = _dt.date(1970, 1, 1).toordinal()
_DIMS = struct.Struct(">Q")


class DecodeError(ValueError):
    """A payload is not a valid message: malformed bytes, an unknown extension, a bad attachment."""


def type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def unencodable(value: Any) -> EncodeError:
    return EncodeError(f"cannot encode a value of Python type {type_name(value)}")


def align_up(n: int) -> int:
    return (n + ATTACHMENT_ALIGN - 1) // ATTACHMENT_ALIGN * ATTACHMENT_ALIGN


# ---------------------------------------------------------------- scalars


def bigint_to_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 8) // 8, "big", signed=True)


def bytes_to_bigint(data: bytes) -> int:
    if not data:
        raise DecodeError("empty big integer")
    return int.from_bytes(data, "big", signed=True)


def utc_datetime(value: _dt.datetime) -> _dt.datetime:
    """The datetime in UTC; a naive datetime is refused (its time zone would be a guess)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise EncodeError(
            f"cannot encode naive datetime {value.isoformat()}: attach a time zone, "
            "for example value.replace(tzinfo=datetime.timezone.utc)"
        )
    return value.astimezone(_dt.timezone.utc)


def date_to_days(value: _dt.date) -> int:
    return value.toordinal() - _EPOCH_ORDINAL


def days_to_date(days: int) -> _dt.date:
    try:
        return _dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise DecodeError(f"date {days} days from 1970-01-01 is out of range") from None


def parse_decimal(text: str) -> Decimal:
    from decimal import Decimal, InvalidOperation  # at the first decimal received: a worker starts faster

    try:
        return Decimal(text)
    except InvalidOperation:
        raise DecodeError(f"invalid decimal {text[:40]!r}") from None


def numpy_scalar(value: Any) -> Any:
    """A NumPy scalar as the Python number it stands for; other NumPy scalars are refused."""
    import numpy as np

    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    raise EncodeError(f"cannot encode a NumPy scalar of dtype {value.dtype}")


def numpy_module() -> Any:
    """NumPy if it is importable (imported at first use), else None."""
    global _numpy
    if _numpy is False:
        try:
            import numpy

            _numpy = numpy
        except ImportError:
            _numpy = None
    return _numpy


_numpy: Any = False


def is_numpy(value: Any) -> bool:
    """Is this a NumPy array or scalar? Never imports NumPy (it is loaded if such a value exists)."""
    return type(value).__module__ == "numpy" or ("numpy" in sys.modules and _is_ndarray(value))


def _is_ndarray(value: Any) -> bool:
    np = sys.modules["numpy"]
    return isinstance(value, (np.ndarray, np.generic))


# ---------------------------------------------------------------- receiving in place


def new_array(head: ArrayHeader) -> tuple[Any, memoryview] | None:
    """An array (a memoryview without NumPy) over a new buffer, and a writable view of that buffer
    to read the data into; None when the data could not be used as read (foreign byte order without
    NumPy). The buffer is an uninitialised ``bytearray`` rather than ``np.empty``: NumPy advises large
    allocations for transparent huge pages, whose first touch was measured much slower here."""
    buf = new_bytearray(head.nbytes)
    np = numpy_module()
    if np is not None:
        return _numpy_array(np, buf, head.dtype, head.shape, head.size), memoryview(buf)
    if not head.native or head.dtype[1] == "U":
        return None
    return _as_memoryview(memoryview(buf), head.dtype, head.shape, head.size), memoryview(buf)


# ---------------------------------------------------------------- arrays


def array_payload(arr: Any) -> tuple[str, tuple[int, ...], memoryview]:
    """dtype string, shape and the C-ordered bytes of an array. Non-contiguous arrays are copied."""
    import numpy as np

    if isinstance(arr, np.ma.MaskedArray):
        raise EncodeError("cannot encode a NumPy masked array: fill it (arr.filled()) or send data and mask apart")
    dtype = arr.dtype
    if dtype.kind == "O":
        arr = _object_strings(np, arr)
        dtype = arr.dtype
    elif dtype.kind == "U" and dtype.itemsize == 0:
        arr = arr.astype("U1")
        dtype = arr.dtype
    code = dtype.str[1:]
    if dtype.fields is not None or dtype.kind not in "biufMmU" or itemsize(code) is None:
        raise EncodeError(
            f"cannot encode a NumPy array of dtype {dtype} ({dtype.str}): the supported dtypes are "
            "bool, int8 to int64, uint8 to uint64, float16 to float64, datetime64 and timedelta64 "
            "with a unit, and str (fixed-width or object arrays of str)"
        )
    contiguous = np.ascontiguousarray(arr)
    data: memoryview = contiguous.reshape(-1).view(np.uint8).data
    return dtype.str, tuple(int(d) for d in arr.shape), data


def itemsize(code: str) -> int | None:
    """Bytes per element of a wire dtype without its byte order (``f8``, ``M8[ns]``, ``U12``, ``bf16``);
    None when the dtype is not one that crosses."""
    if code in DTYPE_CODES:
        return int(code[1])
    if code == "bf16":
        return 2
    if code[:3] in ("M8[", "m8[") and code[-1:] == "]" and code[3:-1] in _TIME_UNITS:
        return 8
    if code[:1] == "U" and code[1:].isdigit() and code[1] != "0" and int(code[1:]) <= _MAX_STR_WIDTH:
        return 4 * int(code[1:])
    return None


def _object_strings(np: Any, arr: Any) -> Any:
    """An object array whose elements are all ``str``, as a fixed-width string array."""
    for item in arr.flat:
        if type(item) is not str:
            raise EncodeError(
                f"cannot encode a NumPy array of dtype object holding {type_name(item)}: only object arrays "
                "of str have a mapping (convert others with arr.astype(...) or arr.tolist())"
            )
    return arr.astype(str) if arr.size else np.empty(arr.shape, dtype="U1")


def array_header(flags: int, dtype: str, shape: tuple[int, ...]) -> bytes:
    code = dtype.encode("ascii")
    return b"".join((bytes((flags, len(code))), code, bytes((len(shape),)), *(_DIMS.pack(d) for d in shape)))


class ArrayHeader:
    """The parsed head of an NDARRAY extension: flags, dtype, shape, and where the data starts."""

    __slots__ = ("attached", "dtype", "shape", "size", "nbytes", "data_offset")

    def __init__(self, data: bytes) -> None:
        try:
            flags, n = data[0], data[1]
            dtype = data[2 : 2 + n].decode("ascii")
            ndim = data[2 + n]
        except (IndexError, UnicodeDecodeError):
            raise DecodeError("truncated or invalid array header") from None
        p = 3 + n
        if ndim > 64 or len(data) < p + 8 * ndim:
            raise DecodeError("invalid array shape")
        self.shape = tuple(_DIMS.unpack_from(data, p + 8 * i)[0] for i in range(ndim))
        order, code = dtype[:1], dtype[1:]
        width = itemsize(code)
        if width is None or not order or order not in "<>|=" or (order == "|" and width != 1):
            raise DecodeError(f"unsupported dtype {dtype!r}")
        size = 1
        for d in self.shape:
            size *= d
        self.attached = bool(flags & NDARRAY_ATTACHED)
        self.dtype = dtype
        self.size = size
        self.nbytes = size * width
        self.data_offset = p + 8 * ndim

    @property
    def native(self) -> bool:
        """Is the data in this host's byte order (or made of single bytes)?"""
        return self.dtype[0] in (_NATIVE, "|", "=") or self.dtype[1:] in ("b1", "i1", "u1")

    def attachment_index(self, data: bytes) -> int:
        if len(data) - self.data_offset != 4:
            raise DecodeError("array attachment reference must be 4 bytes")
        return int.from_bytes(data[self.data_offset :], "big")


def decode_array(data: bytes, attachment: Callable[[int], memoryview]) -> Any:
    """An ndarray (a memoryview without NumPy) from an NDARRAY extension payload whose data is
    inline or in an attachment already in memory."""
    head = ArrayHeader(data)
    view = attachment(head.attachment_index(data)) if head.attached else memoryview(data)[head.data_offset :]
    if view.nbytes != head.nbytes:
        raise DecodeError(
            f"array of shape {head.shape} and dtype {head.dtype} needs {head.nbytes} bytes, got {view.nbytes}"
        )
    np = numpy_module()
    if np is not None:
        # Inline data lives in a temporary bytes object, and a read-only frame gives a read-only
        # array: _numpy_array copies those so that every array received is writable.
        return _numpy_array(np, view, head.dtype, head.shape, head.size)
    if head.dtype[1] == "U":
        return _strings(view, head)
    return _as_memoryview(view, head.dtype, head.shape, head.size)


def _strings(view: memoryview, head: ArrayHeader) -> Any:
    """A string array without NumPy: nested lists of str following the shape."""
    width = head.nbytes // max(head.size, 1)
    encoding = "utf-32-be" if head.dtype[0] == ">" else "utf-32-le"
    try:
        flat: list[Any] = [
            bytes(view[i * width : (i + 1) * width]).decode(encoding).rstrip("\0") for i in range(head.size)
        ]
    except UnicodeDecodeError:
        raise DecodeError(f"invalid code points in a string array ({head.dtype})") from None
    for dim in reversed(head.shape[1:]):
        flat = [flat[i : i + dim] for i in range(0, len(flat), dim)] if dim else [[] for _ in range(len(flat))]
    return flat


def _numpy_array(np: Any, buf: Any, dtype: str, shape: tuple[int, ...], size: int) -> Any:
    """The ndarray over ``buf``; a bfloat16 array becomes a torch tensor (the common bfloat16 type)
    when torch is importable, else a uint16 array of its bits."""
    if dtype[1:] == "bf16":
        bits = np.frombuffer(buf, dtype=np.dtype(dtype[0] + "u2"), count=size).reshape(shape)
        from .tensors import bfloat16_tensor

        return bfloat16_tensor(bits if bits.flags.writeable else bits.copy())
    arr = np.frombuffer(buf, dtype=np.dtype(dtype), count=size).reshape(shape)
    return arr if arr.flags.writeable else arr.copy()


def _as_memoryview(view: memoryview, dtype: str, shape: tuple[int, ...], size: int) -> memoryview:
    """The array as a typed memoryview, for interpreters without NumPy."""
    order, code = dtype[:1], dtype[1:]
    fmt = _FORMATS.get(code) or "q"  # datetime64 and timedelta64: their int64 counts
    if order not in (_NATIVE, "|", "=") and code not in ("b1", "i1", "u1"):
        import array as _array

        swapped = _array.array(fmt, view.tobytes())
        swapped.byteswap()
        view = memoryview(swapped).cast("B")
    flat: Any = view.cast("B")
    # memoryview cannot describe a shape with a zero in it: an empty array arrives one-dimensional.
    result: memoryview = flat.cast(fmt) if size == 0 else flat.cast(fmt, shape)
    return result


# ---------------------------------------------------------------- tables, tensors, other libraries

#: Top-level packages whose values may have a mapping (tables, tensors, ``pd.NA``). Values are
#: recognised by the name of their type's module, so none of these packages is imported to check.
_FOREIGN_ROOTS: Final[frozenset[str]] = frozenset({"pandas", "pyarrow", "polars", "torch", "jax", "jaxlib", "cupy"})

FOREIGN_ARRAY: Final[int] = 0
FOREIGN_TABLE: Final[int] = 1
FOREIGN_VALUE: Final[int] = 2


def foreign(value: Any) -> tuple[int, Any] | None:
    """How a value of another library crosses, or None when it has no mapping:
    ``(FOREIGN_ARRAY, (dtype, shape, data))`` for a tensor, ``(FOREIGN_TABLE, ipc_bytes)`` for a table
    (Arrow IPC stream), ``(FOREIGN_VALUE, replacement)`` for a value sent as another (``pd.NA``: None)."""
    root = type(value).__module__.partition(".")[0]
    if root not in _FOREIGN_ROOTS:
        return None
    from . import tables, tensors  # at the first such value: a worker starts without them

    if tables.is_table(value):
        return FOREIGN_TABLE, tables.table_to_ipc(value)
    if tables.is_missing(value):
        return FOREIGN_VALUE, None
    payload = tensors.tensor_payload(value)
    if payload is None:
        return None
    return FOREIGN_ARRAY, payload if isinstance(payload, tuple) else array_payload(payload)


def table_ext_payload(flags: int, index_or_data: int | bytes | memoryview) -> bytes:
    """The payload of a TABLE extension: a flag byte, then a u32 attachment index or the IPC bytes."""
    if isinstance(index_or_data, int):
        return bytes((flags,)) + index_or_data.to_bytes(4, "big")
    return bytes((flags,)) + bytes(index_or_data)


def decode_table(data: bytes, attached: Callable[[int], Any]) -> Any:
    """The table of a TABLE extension payload: a ``pyarrow.Table`` read from the IPC bytes without a
    copy (``attached(index)`` gives the bytes of an attachment)."""
    if len(data) < 1:
        raise DecodeError("empty table payload")
    if data[0] & NDARRAY_ATTACHED:
        if len(data) != 5:
            raise DecodeError("table attachment reference must be 4 bytes")
        ipc = attached(int.from_bytes(data[1:5], "big"))
        if not isinstance(ipc, (bytes, memoryview)):
            return ipc  # a table whose bytes are still in the pipe (tables.PendingTable)
    else:
        ipc = memoryview(data)[1:]
    from .tables import table_from_ipc

    try:
        return table_from_ipc(ipc)
    except Exception as exc:  # noqa: BLE001 - malformed IPC bytes are a malformed payload
        raise DecodeError(f"invalid Arrow IPC stream of {len(ipc)} bytes: {type(exc).__name__}: {exc}") from None
