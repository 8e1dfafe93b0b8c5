"""check_payload: a lower bound of the encoded size, stopping at the limit before anything is encoded."""

from __future__ import annotations

import pytest

from snakepit_bridge.bounds import bounded, check_payload
from snakepit_bridge.errors import FrameTooLarge


class Exploding:
    """Encoding it would raise: the bound must refuse before an encoder reaches it."""


def test_scalars_and_small_values_pass() -> None:
    for value in (1, 2.5, True, None, "abc", b"x" * 100, [1, 2, "x"], {"a": [1, 2]}):
        check_payload(value, 1024)


def test_large_values_are_refused_before_encoding() -> None:
    with pytest.raises(FrameTooLarge):
        check_payload("x" * 2000, 1024)
    with pytest.raises(FrameTooLarge):
        check_payload([b"y" * 600, b"y" * 600, Exploding()], 1024)
    with pytest.raises(FrameTooLarge):
        check_payload({"k": ["z" * 700], "v": "z" * 700}, 1024)
    with pytest.raises(FrameTooLarge):
        check_payload([0] * 2000, 1024)  # each item takes at least a byte: no walk needed
    calls: list[object] = []
    encode = bounded(lambda v: calls.append(v) or b"", 1024)
    with pytest.raises(FrameTooLarge):
        encode(["x" * 2000, Exploding()])
    assert calls == [], "the encoder never ran"


def test_numpy_arrays_count_their_bytes() -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(FrameTooLarge):
        check_payload({"a": np.zeros(2**31, dtype=np.uint8)}, 256 * 2**20)  # never touched: calloc'd pages
    check_payload(np.zeros(10), 1024)


def test_the_bound_is_never_above_the_encoded_size() -> None:
    from snakepit_bridge.codecs import make_codec

    np = pytest.importorskip("numpy")
    values = [
        [0] * 1000,
        {i: i for i in range(500)},
        ["a"] * 400,
        [[1, 2]] * 300,
        {"k": [b"x" * 10] * 50},
        "é" * 300,
        [np.float64(1.0)] * 200,
        np.arange(100, dtype=np.uint8),
    ]
    for codec_name in ("msgpack", "json"):
        codec = make_codec(codec_name)
        for value in values:
            encoded = codec.encode(value)
            size = len(encoded) if isinstance(encoded, (bytes, bytearray)) else encoded.size
            check_payload(value, size)  # exactly the encoded size: never refused
