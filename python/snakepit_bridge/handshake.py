"""JSON of plain values without the ``json`` module: the handshake's (``hello`` and ``fatal``), and
the fork server's control channel (zygote.py).

Until ``hello`` a worker speaks JSON. Importing ``json`` (and ``re``, ``enum`` behind it, and the
regular expressions its decoder compiles) would be a large part of a worker's start, and these
messages hold plain values: names, docs, numbers, lists and dicts. Those are written here; anything
else (a value the JSON codec would tag, such as a NaN default or a dict with a single ``$`` key) falls
back to the full JSON codec, so the bytes always decode to what ``JsonCodec`` would have sent. The
zygote reads the host's requests with the C scanner that ``json`` itself uses."""

from __future__ import annotations

try:
    from _json import encode_basestring as _quote
except ImportError:  # an interpreter without the C accelerator
    from json.encoder import py_encode_basestring as _quote

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
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


def encode_plain(value: Any) -> bytes:
    """``value`` (plain values only: str, int, float, bool, None, lists and dicts of them) as JSON.
    Raises ``ValueError`` for anything else."""
    out: list[str] = []
    try:
        _write(value, out, 0)
    except _NotPlain:
        raise ValueError(f"not a plain JSON value: {type(value).__name__}") from None
    return "".join(out).encode("utf-8")


class _ScanContext:
    """What ``_json.make_scanner`` reads from a decoder: the defaults of ``json.loads``."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.replace("Infinity", "inf"))  # NaN, Infinity, -Infinity


def _c_scanner() -> Callable[[str, int], tuple[Any, int]] | None:
    """The C scanner of ``json.loads``, with its defaults; None without the C accelerator."""
    try:
        from _json import make_scanner
    except ImportError:
        return None
    make: Any = make_scanner
    return make(_ScanContext())  # type: ignore[no-any-return]


_scan = _c_scanner()


def decode_plain(data: bytes) -> Any:
    """One JSON document, as ``json.loads`` reads it. Raises ``ValueError`` when it is not one."""
    text = data.decode("utf-8").strip()
    if _scan is None:
        import json

        return json.loads(text)
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        raise ValueError("not a JSON document") from None
    if end != len(text):
        raise ValueError(f"extra data after the JSON document (at {end} of {len(text)})")
    return value
