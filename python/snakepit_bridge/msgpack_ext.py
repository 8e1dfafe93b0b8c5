"""MessagePack's extension types, both ways (docs/data.md has the mapping): the ``default`` hook
that encodes what MessagePack has no type for (large ints, dates, decimals, sets, NumPy values,
tables, tensors, the references to attachments), and the extension hook that decodes them, from a
payload in memory or from a frame whose attachments are still in the pipe."""

from __future__ import annotations

import datetime as _dt
import sys

from .attachments import BytesRef
from .buffers import new_bytes
from .datatypes import (
    ATTACHMENT_MIN,
    EXT_BIGINT,
    EXT_BYTES_REF,
    EXT_DATE,
    EXT_DECIMAL,
    EXT_NDARRAY,
    EXT_SET,
    EXT_TABLE,
    FOREIGN_ARRAY,
    FOREIGN_TABLE,
    NDARRAY_ATTACHED,
    ArrayHeader,
    DecodeError,
    array_header,
    array_payload,
    bigint_to_bytes,
    bytes_to_bigint,
    date_to_days,
    days_to_date,
    decode_array,
    decode_table,
    foreign,
    is_numpy,
    new_array,
    numpy_scalar,
    parse_decimal,
    table_ext_payload,
    unencodable,
    utc_datetime,
)
from .tables import PendingTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .frame_reader import AttachedFrame


class NeedWhole(Exception):
    """An attachment cannot be read in place: decode the frame from one buffer instead."""


class MsgpackExt:
    """Mixin of ``MsgpackCodec``: its extension hooks. One object with the codec, so its paths pay no
    extra hop to reach them."""

    if TYPE_CHECKING:
        _msgpack: Any

        def _pack(self, value: Any, default: Callable[[Any], Any]) -> bytes: ...

        def _unpack(self, data: bytes | bytearray | memoryview, hook: Callable[[int, bytes], Any]) -> Any: ...

    # ---------------------------------------------------------------- encode

    def _default_for(self, blobs: list[memoryview]) -> Callable[[Any], Any]:
        ext = self._msgpack.ExtType
        timestamp = self._msgpack.Timestamp

        def default(value: Any) -> Any:
            if isinstance(value, BytesRef):
                return ext(EXT_BYTES_REF, value.index.to_bytes(4, "big"))
            if isinstance(value, int) and not isinstance(value, bool):
                return ext(EXT_BIGINT, bigint_to_bytes(value))
            if isinstance(value, (bytearray, memoryview)):
                return bytes(value)
            if isinstance(value, _dt.datetime):
                if value != value:  # pandas' NaT, a missing value (unequal to itself, like NaN)
                    return None
                return timestamp.from_datetime(utc_datetime(value))
            if isinstance(value, _dt.date):
                return ext(EXT_DATE, date_to_days(value).to_bytes(4, "big", signed=True))
            decimal = sys.modules.get("decimal")  # not imported: the value cannot be a Decimal
            if decimal is not None and isinstance(value, decimal.Decimal):
                return ext(EXT_DECIMAL, str(value).encode("ascii"))
            if isinstance(value, (set, frozenset)):
                return ext(EXT_SET, self._pack(list(value), default))
            if is_numpy(value):
                return self._numpy(value, blobs)
            special = foreign(value)  # tables, tensors, pd.NA: datatypes.foreign
            if special is not None:
                return self._foreign(special, blobs)
            raise unencodable(value)

        return default

    def _numpy(self, value: Any, blobs: list[memoryview]) -> Any:
        import numpy as np

        if isinstance(value, np.generic):
            return numpy_scalar(value)
        if not isinstance(value, np.ndarray):
            raise unencodable(value)
        dtype, shape, data = array_payload(value)
        return self._array_ext(dtype, shape, data, blobs)

    def _array_ext(self, dtype: str, shape: tuple[int, ...], data: memoryview, blobs: list[memoryview]) -> Any:
        if data.nbytes >= ATTACHMENT_MIN:
            blobs.append(data)
            index = (len(blobs) - 1).to_bytes(4, "big")
            return self._msgpack.ExtType(EXT_NDARRAY, array_header(NDARRAY_ATTACHED, dtype, shape) + index)
        return self._msgpack.ExtType(EXT_NDARRAY, array_header(0, dtype, shape) + data.tobytes())

    def _foreign(self, special: tuple[int, Any], blobs: list[memoryview]) -> Any:
        kind, payload = special
        if kind == FOREIGN_ARRAY:
            dtype, shape, data = payload
            return self._array_ext(dtype, shape, data, blobs)
        if kind == FOREIGN_TABLE:
            if payload.nbytes >= ATTACHMENT_MIN:
                blobs.append(payload)
                return self._msgpack.ExtType(EXT_TABLE, table_ext_payload(NDARRAY_ATTACHED, len(blobs) - 1))
            return self._msgpack.ExtType(EXT_TABLE, table_ext_payload(0, payload))
        return payload

    # ---------------------------------------------------------------- decode

    def _ext_hook_for(self, frame: memoryview | None, table: list[tuple[int, int]]) -> Callable[[int, bytes], Any]:
        """The extension hook for a payload in memory (``frame``, with its attachment table)."""

        def attachment(index: int) -> memoryview:
            if frame is None or index >= len(table):
                raise DecodeError(f"reference to attachment {index} of {len(table)}")
            offset, length = table[index]
            return frame[offset : offset + length]

        def attached_bytes(index: int) -> bytes:
            return bytes(attachment(index))

        def attached_array(head: ArrayHeader, data: bytes) -> Any:
            return decode_array(data, attachment)

        return _ExtHook(self, attached_bytes, attached_array, attachment)

    def _streaming_hook(
        self, frame: AttachedFrame, targets: dict[int, memoryview], pending: list[PendingTable]
    ) -> Callable[[int, bytes], Any]:
        """The extension hook for a frame whose attachments are still in the pipe: each referenced
        attachment gets the object it becomes, and ``targets`` its buffer, for ``frame.fill``."""
        table = frame.table
        make_bytes = new_bytes()
        assert make_bytes is not None  # _decode_streaming checked

        def claim(index: int) -> int:
            if index >= len(table):
                raise DecodeError(f"reference to attachment {index} of {len(table)}")
            if index in targets:
                raise DecodeError(f"attachment {index} is referenced twice")
            return table[index][1]

        def attached_bytes(index: int) -> bytes:
            length = claim(index)
            obj, view = make_bytes(length)
            targets[index] = view
            return obj

        def attached_array(head: ArrayHeader, data: bytes) -> Any:
            index = head.attachment_index(data)
            length = claim(index)
            if length != head.nbytes:
                raise DecodeError(
                    f"array of shape {head.shape} and dtype {head.dtype} needs {head.nbytes} bytes, got {length}"
                )
            made = new_array(head)
            if made is None:
                raise NeedWhole()
            targets[index] = made[1]
            return made[0]

        def attached_table(index: int) -> PendingTable:
            pending.append(PendingTable(attached_bytes(index)))  # read once its bytes are in: resolve_tables
            return pending[-1]

        return _ExtHook(self, attached_bytes, attached_array, attached_table)


class _ExtHook:
    """The unpacker's extension hook. A class rather than a closure: a closure that refers to itself
    (sets nest) forms a reference cycle, which would keep received buffers alive until the cyclic
    garbage collector runs."""

    __slots__ = ("_codec", "_bytes", "_array", "_table")

    def __init__(
        self,
        codec: MsgpackExt,
        attached_bytes: Callable[[int], bytes],
        attached_array: Callable[[ArrayHeader, bytes], Any],
        attached_table: Callable[[int], Any] | None = None,
    ) -> None:
        self._codec = codec
        self._bytes = attached_bytes
        self._array = attached_array
        self._table = attached_table or _no_attachment

    def __call__(self, code: int, data: bytes) -> Any:
        if code == EXT_NDARRAY:
            head = ArrayHeader(data)
            return self._array(head, data) if head.attached else decode_array(data, _no_attachment)
        if code == EXT_BYTES_REF:
            if len(data) != 4:
                raise DecodeError("bytes reference must be 4 bytes")
            return self._bytes(int.from_bytes(data, "big"))
        if code == EXT_BIGINT:
            return bytes_to_bigint(data)
        if code == EXT_TABLE:
            return decode_table(data, self._table)
        if code == EXT_DECIMAL:
            return parse_decimal(data.decode("ascii"))
        if code == EXT_SET:
            items = self._codec._unpack(data, self)
            if not isinstance(items, list):
                raise DecodeError("a set must hold an array")
            return set(items)
        if code == EXT_DATE:
            if len(data) != 4:
                raise DecodeError("date must be 4 bytes")
            return days_to_date(int.from_bytes(data, "big", signed=True))
        raise DecodeError(f"unknown extension type {code}")


def _no_attachment(index: int) -> memoryview:
    raise DecodeError(f"reference to attachment {index} outside an attachment frame")
