"""The JSON codec: the fallback without ``msgpack``, and the codec of the handshake.

It carries the same values as the MessagePack codec. What JSON cannot say natively travels as an
object with a single ``$``-key (``{"$bytes": base64}``, ``{"$ndarray": [dtype, shape, base64]}``...);
a dict that happens to have a single ``$``-key is escaped as ``{"$object": [[key, value]]}``."""

from __future__ import annotations

import base64
import datetime as _dt
import json
from collections.abc import Callable
from decimal import Decimal

from . import protocol
from .datatypes import (
    FOREIGN_ARRAY,
    FOREIGN_TABLE,
    DecodeError,
    array_header,
    array_payload,
    decode_array,
    decode_table,
    foreign,
    is_numpy,
    numpy_scalar,
    parse_decimal,
    unencodable,
    utc_datetime,
)
from .errors import EncodeError
from .frame_reader import AttachedFrame

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MAX_SAFE_INTEGER = 2**53 - 1
MAX_DEPTH: int = protocol.MAX_ENCODE_DEPTH


def _b64(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(data).decode("ascii")


def _datetime_text(value: _dt.datetime) -> str:
    text = utc_datetime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def to_json_value(value: Any, depth: int = 0) -> Any:
    """The JSON-ready form of a value (tags for what JSON lacks). Raises EncodeError."""
    t = type(value)
    if t is str or t is bool or value is None:
        return value
    if t is int:
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else {"$bigint": hex(value)}
    if t is float:
        if value != value:
            return {"$float": "NaN"}
        if value in (float("inf"), float("-inf")):
            return {"$float": "Infinity" if value > 0 else "-Infinity"}
        return value
    if depth >= MAX_DEPTH:
        raise EncodeError(f"cannot encode a value nested more than {MAX_DEPTH} levels deep (is it cyclic?)")
    inner = depth + 1
    # Plain loops rather than comprehensions: one stack frame per level of nesting.
    if t is list or t is tuple:
        items = []
        for item in value:
            items.append(to_json_value(item, inner))
        return items
    if t is dict:
        if all(type(k) is str for k in value):
            out = {}
            for k, v in value.items():
                out[k] = to_json_value(v, inner)
            if len(out) == 1:
                ((key, item),) = out.items()
                if key.startswith("$"):
                    return {"$object": [[key, item]]}
            return out
        pairs = []
        for k, v in value.items():
            pairs.append([to_json_value(k, inner), to_json_value(v, inner)])
        return {"$map": pairs}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": _b64(value if not isinstance(value, memoryview) else value.tobytes())}
    if isinstance(value, _dt.datetime):
        if value != value:  # pandas' NaT, a missing value (unequal to itself, like NaN)
            return None
        return {"$datetime": _datetime_text(value)}
    if isinstance(value, _dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, (set, frozenset)):
        return {"$set": to_json_value(list(value), depth)}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return to_json_value(int(value), depth)
    if isinstance(value, float):
        return to_json_value(float(value), depth)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return to_json_value(list(value), depth)
    if isinstance(value, dict):
        return to_json_value(dict(value), depth)
    if is_numpy(value):
        import numpy as np

        if isinstance(value, np.generic):
            return to_json_value(numpy_scalar(value), depth)
        if isinstance(value, np.ndarray):
            dtype, shape, data = array_payload(value)
            return {"$ndarray": [dtype, list(shape), _b64(data)]}
    special = foreign(value)  # tables, tensors, pd.NA: datatypes.foreign
    if special is not None:
        return _foreign_json(special, depth)
    raise unencodable(value)


def _foreign_json(special: tuple[int, Any], depth: int) -> Any:
    kind, payload = special
    if kind == FOREIGN_ARRAY:
        dtype, shape, data = payload
        return {"$ndarray": [dtype, list(shape), _b64(data)]}
    if kind == FOREIGN_TABLE:
        return {"$arrow": _b64(payload)}
    return to_json_value(payload, depth)


def _pairs(body: Any, tag: str) -> list[tuple[Any, Any]]:
    if not isinstance(body, list) or not all(isinstance(p, list) and len(p) == 2 for p in body):
        raise DecodeError(f"{tag} must be an array of [key, value] pairs")
    return [(k, v) for k, v in body]


def _parse_datetime(body: Any) -> _dt.datetime:
    if not isinstance(body, str) or "T" not in body:
        raise DecodeError(f"invalid $datetime {body!r}")
    text = body[:-1] + "+00:00" if body.endswith("Z") else body
    value = _dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise DecodeError(f"$datetime without a time zone: {body!r}")
    return value.astimezone(_dt.timezone.utc)


def _from_tag(tag: str, body: Any) -> Any:
    if tag == "$bytes":
        if not isinstance(body, str):
            raise DecodeError("$bytes must be a base64 string")
        return base64.b64decode(body, validate=True)
    if tag == "$ndarray":
        if not (isinstance(body, list) and len(body) == 3 and isinstance(body[0], str) and isinstance(body[2], str)):
            raise DecodeError("$ndarray must be [dtype, shape, base64]")
        dtype, shape, data = body
        if not isinstance(shape, list) or not all(type(d) is int and 0 <= d < 2**63 for d in shape):
            raise DecodeError("$ndarray shape must hold non-negative integers")
        raw = base64.b64decode(data, validate=True)
        return decode_array(array_header(0, dtype, tuple(shape)) + raw, _no_attachment)
    if tag == "$arrow":
        if not isinstance(body, str):
            raise DecodeError("$arrow must be a base64 string")
        return decode_table(b"\0" + base64.b64decode(body, validate=True), _no_attachment)
    if tag == "$datetime":
        return _parse_datetime(body)
    if tag == "$date":
        if not isinstance(body, str):
            raise DecodeError("$date must be a string")
        return _dt.date.fromisoformat(body)
    if tag == "$decimal":
        if not isinstance(body, str):
            raise DecodeError("$decimal must be a string")
        return parse_decimal(body)
    if tag == "$bigint":
        if not isinstance(body, str) or not body.lstrip("-").lower().startswith("0x"):
            raise DecodeError("$bigint must be a hexadecimal string")
        return int(body, 16)
    if tag == "$float":
        if not isinstance(body, str):
            raise DecodeError("$float must be a string")
        return float(body)
    if tag == "$set":
        if not isinstance(body, list):
            raise DecodeError("$set must be an array")
        return set(body)
    if tag == "$map":
        return dict(_pairs(body, tag))
    if tag == "$object":
        pairs = _pairs(body, tag)
        if not all(isinstance(k, str) for k, _ in pairs):
            raise DecodeError("$object keys must be strings")
        return dict(pairs)
    raise DecodeError(f"unknown tag {tag!r}")


def _no_attachment(index: int) -> memoryview:
    raise DecodeError("the JSON codec has no attachments")


def _object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1:
        ((key, body),) = obj.items()
        if key.startswith("$"):
            return _from_tag(key, body)
    return obj


class JsonCodec:
    name = "json"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False)
        self._decoder = json.JSONDecoder(object_hook=_object_hook)

    def encode_reply(self, code: int, call_id: int, value: Any) -> bytes:
        return self.encode([code, call_id, value])

    def encode(self, value: Any) -> bytes:
        try:
            return self._encoder.encode(to_json_value(value)).encode("utf-8")
        except EncodeError:
            raise
        except UnicodeEncodeError:
            raise EncodeError("cannot encode a str with unpaired surrogates") from None
        except RecursionError:
            raise EncodeError("cannot encode a value nested too deeply (is it cyclic?)") from None
        except Exception as exc:  # noqa: BLE001 - whatever fails (memory, a broken object) is an encode error
            raise EncodeError(f"cannot encode value as JSON: {type(exc).__name__}: {exc}") from None

    def message_encoder(self, head: list[Any]) -> Callable[[Any], bytes]:
        """``encode`` of ``[*head, value]`` for many values (nothing to gain in JSON: the same)."""
        return lambda value: self.encode([*head, value])

    def decode(self, data: bytes | bytearray | memoryview | AttachedFrame) -> Any:
        try:
            return self._decoder.decode(bytes(data).decode("utf-8"))
        except DecodeError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure here means a malformed payload
            raise DecodeError(f"invalid JSON payload of {len(data)} bytes: {type(exc).__name__}: {exc}") from None
