"""The handshake's JSON (``hello`` and ``fatal``) written without the ``json`` module.

Until ``hello`` a worker speaks JSON. Importing ``json`` (and ``re``, ``enum`` behind it) would be a
large part of a worker's start, and these two messages hold plain values: names, docs, numbers,
lists and dicts. Those are written here; anything else (a value the JSON codec would tag, such as a
NaN default or a dict with a single ``$`` key) falls back to the full JSON codec, so the bytes always
decode to what ``JsonCodec`` would have sent."""

from __future__ import annotations

try:
    from _json import encode_basestring as _quote
except ImportError:  # an interpreter without the C accelerator
    from json.encoder import py_encode_basestring as _quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MAX_SAFE_INTEGER = 2**53 - 1
_MAX_DEPTH = 64
_INF = float("inf")


class _NotPlain(Exception):
    """A value the fast writer leaves to the JSON codec."""


def _write(value: Any, out: list[str], depth: int) -> None:
    t = type(value)
    if t is str:
        out.append(_quote(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif t is int and -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:
        out.append(int.__repr__(value))
    elif t is float and value == value and -_INF < value < _INF:
        out.append(float.__repr__(value))
    elif depth >= _MAX_DEPTH:
        raise _NotPlain()
    elif t is list or t is tuple:
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, depth + 1)
        out.append("]")
    elif t is dict:
        if len(value) == 1 and str(next(iter(value))).startswith("$"):
            raise _NotPlain()  # the codec escapes it as {"$object": ...}
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise _NotPlain()
            if i:
                out.append(",")
            out.append(_quote(key))
            out.append(":")
            _write(item, out, depth + 1)
        out.append("}")
    else:
        raise _NotPlain()


def encode_handshake(message: list[Any]) -> bytes:
    """``message`` as the JSON codec encodes it (raises ``EncodeError`` for a value it cannot)."""
    try:
        out: list[str] = []
        _write(message, out, 0)
        return "".join(out).encode("utf-8")
    except (_NotPlain, UnicodeEncodeError):
        from .json_codec import JsonCodec

        return JsonCodec().encode(message)
