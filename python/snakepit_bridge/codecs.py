"""Codecs behind one interface: MessagePack when the ``msgpack`` package is importable, stdlib JSON
otherwise. Bytes travel as native binary on the MessagePack path and as ``{"$bytes": base64}`` in JSON."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, Protocol

from .errors import EncodeError


class Codec(Protocol):
    name: str

    def encode(self, value: Any) -> bytes: ...

    def decode(self, data: bytes | bytearray | memoryview) -> Any: ...


def _type_name(value: Any) -> str:
    cls = type(value)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _unencodable(value: Any) -> EncodeError:
    return EncodeError(f"cannot encode a value of Python type {_type_name(value)}")


class MsgpackCodec:
    name = "msgpack"

    def __init__(self) -> None:
        import msgpack

        self._packb: Callable[..., bytes] = msgpack.packb
        self._unpackb: Callable[..., Any] = msgpack.unpackb

    @staticmethod
    def _default(value: Any) -> Any:
        if isinstance(value, (bytearray, memoryview)):
            return bytes(value)
        if isinstance(value, (tuple, set, frozenset)):
            return list(value)
        raise _unencodable(value)

    def encode(self, value: Any) -> bytes:
        try:
            return self._packb(value, use_bin_type=True, default=self._default)
        except OverflowError as exc:
            raise EncodeError(f"cannot encode an integer outside the 64-bit range: {exc}") from None
        except ValueError as exc:
            raise EncodeError(f"cannot encode value: {exc}") from None

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        return self._unpackb(data, raw=False, strict_map_key=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise _unencodable(value)


def _json_object_hook(obj: dict[str, Any]) -> Any:
    if len(obj) == 1 and "$bytes" in obj:
        return base64.b64decode(obj["$bytes"])
    return obj


class JsonCodec:
    name = "json"

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(default=_json_default, separators=(",", ":"), allow_nan=False)
        self._decoder = json.JSONDecoder(object_hook=_json_object_hook)

    def encode(self, value: Any) -> bytes:
        try:
            return self._encoder.encode(value).encode("utf-8")
        except ValueError as exc:
            raise EncodeError(f"cannot encode value as JSON: {exc}") from None

    def decode(self, data: bytes | bytearray | memoryview) -> Any:
        return self._decoder.decode(bytes(data).decode("utf-8"))


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
        return JsonCodec()
    raise ValueError(f"unknown codec {name!r}")


def choose_codec(preferred: list[str]) -> Codec:
    """The first codec in the host's order of preference that this interpreter supports."""
    have = available_codecs()
    for name in preferred:
        if name in have:
            return make_codec(name)
    raise ValueError(f"no common codec: host accepts {preferred}, worker supports {have}")
