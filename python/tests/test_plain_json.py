"""JSON of plain values without the json module (handshake.py): what the zygote's control channel and
a worker's handshake are read and written with must match json exactly."""

from __future__ import annotations

import json

import pytest

from snakepit_bridge.handshake import decode_plain, encode_plain

DOCUMENTS = [
    {"op": "fork", "id": 3, "env": {"PATH": "/usr/bin:/bin", "TEXT": 'é "quoted" \\ \n\t\u0000 ☃ 𝄞'}},
    {"op": "stop"},
    [1, -2, 2.5, -3e300, 1e-7, True, False, None, "x", [], {}],
    {"nested": [{"a": [[[]]]}, {"b": {"c": None}}]},
    "a string",
    123456789012345678901234567890,
]


@pytest.mark.parametrize("value", DOCUMENTS)
def test_reads_what_json_writes_and_writes_what_json_reads(value: object) -> None:
    assert decode_plain(json.dumps(value).encode()) == value
    assert decode_plain(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()) == value
    if not isinstance(value, int) or abs(value) < 2**53:  # larger integers are not plain (JS numbers)
        assert json.loads(encode_plain(value)) == value


def test_reads_surrounding_whitespace_and_nan_as_json_does() -> None:
    assert decode_plain(b'  {"a": 1}\n') == {"a": 1}
    value = decode_plain(b"[NaN, Infinity, -Infinity]")
    assert value[0] != value[0] and value[1] == float("inf") and value[2] == float("-inf")


@pytest.mark.parametrize("data", [b"", b"   ", b"{", b'{"a": 1} x', b"[1,]", b"{'a': 1}", b"\xff"])
def test_anything_but_one_json_document_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        decode_plain(data)


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, {"k": object()}, {1: "key not a string"}, float("nan"), 2**60])
def test_writing_anything_but_plain_values_is_a_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="not a plain JSON value"):
        encode_plain(value)
