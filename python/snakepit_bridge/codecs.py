"""Codecs behind one interface: MessagePack when the ``msgpack`` package is importable, stdlib JSON
otherwise. Both carry the same values (docs/data.md has the table); anything without a mapping raises
``EncodeError`` naming its type, and a payload that is not a valid message raises ``DecodeError``.

On the MessagePack path, binary values of ``ATTACHMENT_MIN`` bytes or more (``bytes``, ``bytearray``,
``memoryview``, NumPy arrays) travel as attachments after the message: ``encode`` then returns a
``FrameParts`` that the frame writer sends without copying them."""

from __future__ import annotations

import datetime as _dt
import sys
import threading

from .buffers import new_bytes
from .datatypes import (
    ATTACHMENT_MARKER,
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
    align_up,
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
from .errors import EncodeError
from .framing import AttachedFrame, FrameParts
from .tables import PendingTable, resolve_tables

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any, Protocol

__all__ = ["Codec", "DecodeError", "MsgpackCodec", "available_codecs", "choose_codec", "make_codec"]

#: Nodes of a message searched for large binary values to send as attachments, and how deep; values
#: past these bounds go inline (correct, with one more copy).
_LIFT_BUDGET = 4096
_LIFT_DEPTH = 32


if TYPE_CHECKING:

    class Codec(Protocol):
        name: str

        def encode(self, value: Any) -> bytes | FrameParts: ...

        def encode_reply(self, code: int, call_id: int, value: Any) -> bytes | FrameParts: ...

        def decode(self, data: bytes | bytearray | memoryview | AttachedFrame) -> Any: ...

        def message_encoder(self, head: list[Any]) -> Callable[[Any], bytes | FrameParts]:
            """``encode`` of ``[*head, value]`` for many values (a stream's chunks), possibly faster."""
            ...

else:
    Codec = object  # the interface, for type checkers; at run time typing stays unimported


class _NeedWhole(Exception):
    """An attachment cannot be read in place: decode the frame from one buffer instead."""


class _Ref:
    """Stands in for a large binary value while the message is packed."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def _lift(value: Any, blobs: list[memoryview], budget: list[int], depth: int = 0) -> Any:
    """``value`` with each large ``bytes``-like replaced by a ``_Ref`` to ``blobs`` (copied containers
    only where something changed). Non-contiguous memoryviews become bytes."""
    budget[0] -= 1
    t = type(value)
    if t is bytes or t is bytearray or t is memoryview:
        view = value if t is memoryview else memoryview(value)
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
            value = view.obj
        if view.nbytes >= ATTACHMENT_MIN:
            blobs.append(view.cast("B") if view.format != "B" or view.ndim != 1 else view)
            return _Ref(len(blobs) - 1)
        return value
    if depth >= _LIFT_DEPTH:
        return value
    if t is list or t is tuple:
        out: list[Any] | None = None
        for i, item in enumerate(value):
            if budget[0] <= 0:
                break
            new = _lift(item, blobs, budget, depth + 1)
            if new is not item:
                if out is None:
                    out = list(value)
                out[i] = new
        return value if out is None else out
    if t is dict:
        changed: dict[Any, Any] | None = None
        for key, item in value.items():
            if budget[0] <= 0:
                break
            new = _lift(item, blobs, budget, depth + 1)
            if new is not item:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    return value


#: Types a message may hold and still take the fast path (no walk for large binary values).
_SCALARS = frozenset({int, float, str, bool, type(None)})


def _all_scalars(items: Iterable[Any]) -> bool:
    for item in items:
        if type(item) not in _SCALARS:
            return False
    return True


class MsgpackCodec:
    name = "msgpack"

    def __init__(self) -> None:
        import msgpack

        self._msgpack = msgpack
        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb
        self._plain_hook = self._ext_hook_for(None, [])
        # One reusable Packer per thread for messages of scalars (control messages, scalar results):
        # building a Packer per message costs several times the packing itself.
        self._local = threading.local()

    # ---------------------------------------------------------------- encode

    def _default_for(self, blobs: list[memoryview]) -> Callable[[Any], Any]:
        ext = self._msgpack.ExtType
        timestamp = self._msgpack.Timestamp

        def default(value: Any) -> Any:
            if isinstance(value, _Ref):
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

    def _pack(self, value: Any, default: Callable[[Any], Any]) -> bytes:
        return self._packb(value, use_bin_type=True, default=default)

    def encode_reply(self, code: int, call_id: int, value: Any) -> bytes | FrameParts:
        """``encode([code, call_id, value])``, with a shorter path for a scalar value (most results)."""
        if type(value) in _SCALARS:
            packer = getattr(self._local, "packer", None)
            if packer is not None:
                try:
                    return packer.pack([code, call_id, value])  # type: ignore[no-any-return]
                except Exception:  # noqa: BLE001 - the general path below words the error
                    packer.reset()
        return self.encode([code, call_id, value])

    def encode(self, value: Any) -> bytes | FrameParts:
        if type(value) is list and _all_scalars(value):
            packer = getattr(self._local, "packer", None)
            if packer is None:
                packer = self._local.packer = self._msgpack.Packer(use_bin_type=True, default=self._default_for([]))
            try:
                return packer.pack(value)  # type: ignore[no-any-return]
            except Exception:  # noqa: BLE001 - the general path below words the error
                packer.reset()
        blobs: list[memoryview] = []
        try:
            lifted = _lift(value, blobs, [_LIFT_BUDGET])
            body = self._pack(lifted, self._default_for(blobs))
            return _assemble(body, blobs) if blobs else body
        except EncodeError:
            raise
        except UnicodeEncodeError:
            raise EncodeError("cannot encode a str with unpaired surrogates") from None
        except (ValueError, TypeError, BufferError) as exc:
            if "recursion" in str(exc):
                raise EncodeError("cannot encode a value nested too deeply (is it cyclic?)") from None
            raise EncodeError(f"cannot encode value: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - whatever fails (memory, a broken object) is an encode error
            raise EncodeError(f"cannot encode value: {type(exc).__name__}: {exc}") from None

    def message_encoder(self, head: list[Any]) -> Callable[[Any], bytes | FrameParts]:
        """``encode`` of ``[*head, value]`` for many values: the head is packed once, and a value made
        of scalars (or small bytes) is packed alone by a Packer of its own; anything else, and any
        failure, takes ``encode``. Use it from one thread at a time."""
        # MessagePack puts the array's length first and nil is one byte: packing the message with a
        # nil value and dropping that last byte leaves the prefix every value is appended to.
        prefix = self._packb([*head, None], use_bin_type=True)[:-1]
        packer = self._msgpack.Packer(use_bin_type=True, default=self._default_for([]))
        pack = packer.pack
        scalars = _SCALARS
        encode = self.encode

        def encode_message(value: Any) -> bytes | FrameParts:
            t = type(value)
            if (
                t in scalars
                or (t is bytes and len(value) < ATTACHMENT_MIN)
                or (t is list and _all_scalars(value))
                or (t is dict and _all_scalars(value.values()))
            ):
                try:
                    return prefix + pack(value)  # type: ignore[no-any-return]
                except Exception:  # noqa: BLE001 - the general path below words the error
                    packer.reset()
            return encode([*head, value])

        return encode_message

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

        def claim(index: int) -> int:
            if index >= len(table):
                raise DecodeError(f"reference to attachment {index} of {len(table)}")
            if index in targets:
                raise DecodeError(f"attachment {index} is referenced twice")
            return table[index][1]

        def attached_bytes(index: int) -> bytes:
            length = claim(index)
            assert new_bytes is not None
            obj, view = new_bytes(length)
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
                raise _NeedWhole()
            targets[index] = made[1]
            return made[0]

        def attached_table(index: int) -> PendingTable:
            pending.append(PendingTable(attached_bytes(index)))  # read once its bytes are in: resolve_tables
            return pending[-1]

        return _ExtHook(self, attached_bytes, attached_array, attached_table)

    def _hook(
        self, attached_bytes: Callable[[int], bytes], attached_array: Callable[[ArrayHeader, bytes], Any]
    ) -> Callable[[int, bytes], Any]:
        return _ExtHook(self, attached_bytes, attached_array)

    def _unpack(self, data: bytes | bytearray | memoryview, hook: Callable[[int, bytes], Any]) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False, timestamp=3, ext_hook=hook)

    def decode(self, data: bytes | bytearray | memoryview | AttachedFrame) -> Any:
        if type(data) is bytes and data and data[0] != ATTACHMENT_MARKER:
            try:  # most frames: a small message read in one piece
                return self._unpackb(data, raw=False, strict_map_key=False, timestamp=3, ext_hook=self._plain_hook)
            except DecodeError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure of the unpacker means a malformed payload
                raise _malformed(len(data), exc) from None
        if isinstance(data, AttachedFrame):
            return self._decode_streaming(data)
        try:
            if len(data) > 0 and data[0] == ATTACHMENT_MARKER:
                frame = memoryview(data).cast("B")
                body, table = _split(frame)
                return self._unpack(body, self._ext_hook_for(frame, table))
            return self._unpack(data, self._plain_hook)
        except DecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the unpacker means a malformed payload
            raise _malformed(len(data), exc) from None

    def _decode_streaming(self, frame: AttachedFrame) -> Any:
        """Decode the message, then read each attachment into the object it became: received bytes
        and arrays are the only copies of their data."""
        if new_bytes is None:
            return self.decode(bytes(frame))
        targets: dict[int, memoryview] = {}
        pending: list[PendingTable] = []
        try:
            value = self._unpack(frame.body, self._streaming_hook(frame, targets, pending))
        except _NeedWhole:
            return self.decode(bytes(frame))
        except DecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the unpacker means a malformed payload
            raise _malformed(frame.size, exc) from None
        frame.fill(targets)
        targets.clear()
        if pending:
            pending.clear()
            try:
                value = resolve_tables(value)
            except Exception as exc:  # noqa: BLE001 - malformed IPC bytes are a malformed payload
                raise _malformed(frame.size, exc) from None
        return value


class _ExtHook:
    """The unpacker's extension hook. A class rather than a closure: a closure that refers to itself
    (sets nest) forms a reference cycle, which would keep received buffers alive until the cyclic
    garbage collector runs."""

    __slots__ = ("_codec", "_bytes", "_array", "_table")

    def __init__(
        self,
        codec: MsgpackCodec,
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


def _malformed(size: int, exc: Exception) -> DecodeError:
    return DecodeError(f"invalid MessagePack payload of {size} bytes: {type(exc).__name__}: {exc}")


def _no_attachment(index: int) -> memoryview:
    raise DecodeError(f"reference to attachment {index} outside an attachment frame")


def _assemble(body: bytes, blobs: list[memoryview]) -> FrameParts:
    """Marker, body length, body, attachment table and padding in one head; then the attachments."""
    count = len(blobs)
    head_length = 1 + 4 + len(body) + 4 + 8 * count
    table = bytearray()
    offset = align_up(head_length)
    parts: list[bytes | bytearray | memoryview] = []
    end = 0
    for blob in blobs:
        # Past 4 GiB the frame writer refuses the frame (FrameTooLarge) before writing anything.
        table += min(offset, 0xFFFFFFFF).to_bytes(4, "big") + min(blob.nbytes, 0xFFFFFFFF).to_bytes(4, "big")
        if end:
            parts.append(bytes(offset - end))
        parts.append(blob)
        end = offset + blob.nbytes
        offset = align_up(end)
    head = b"".join(
        (
            bytes((ATTACHMENT_MARKER,)),
            len(body).to_bytes(4, "big"),
            body,
            count.to_bytes(4, "big"),
            bytes(table),
            bytes(align_up(head_length) - head_length),
        )
    )
    return FrameParts([head, *parts], end)


def _split(frame: memoryview) -> tuple[memoryview, list[tuple[int, int]]]:
    size = frame.nbytes
    if size < 9:
        raise DecodeError("truncated attachment header")
    body_length = int.from_bytes(frame[1:5], "big")
    body_end = 5 + body_length
    if body_end + 4 > size:
        raise DecodeError(f"body of {body_length} bytes runs past the payload")
    count = int.from_bytes(frame[body_end : body_end + 4], "big")
    table_end = body_end + 4 + 8 * count
    if table_end > size:
        raise DecodeError(f"table of {count} attachments runs past the payload")
    table: list[tuple[int, int]] = []
    previous_end = table_end
    for i in range(count):
        at = body_end + 4 + 8 * i
        offset = int.from_bytes(frame[at : at + 4], "big")
        length = int.from_bytes(frame[at + 4 : at + 8], "big")
        if offset < previous_end or offset + length > size:
            raise DecodeError(f"attachment {i} ({length} bytes at {offset}) overlaps or runs past the payload")
        previous_end = offset + length
        table.append((offset, length))
    return frame[5:body_end], table


def available_codecs() -> list[str]:
    names = []
    try:
        MsgpackCodec()
        names.append("msgpack")
    except ImportError:
        pass
    names.append("json")
    return names


def make_codec(name: str) -> Codec:
    if name == "msgpack":
        return MsgpackCodec()
    if name == "json":
        from .json_codec import JsonCodec  # only when chosen: keeps the worker's startup light

        return JsonCodec()
    raise ValueError(f"unknown codec {name!r}")


def choose_codec(preferred: list[str]) -> Codec:
    """The first codec in the host's order of preference that this interpreter supports."""
    have = available_codecs()
    for name in preferred:
        if name in have:
            return make_codec(name)
    raise ValueError(f"no common codec: host accepts {preferred}, worker supports {have}")
