"""Hypothesis fuzzing of the frame reader and both codecs: whatever the bytes, the result is a value
or a defined exception (DecodeError, FrameTooLarge, TruncatedFrame), never anything else. And values
of every mapped kind survive a round trip."""

from __future__ import annotations

import datetime as dt
import math
import os
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from snakepit_bridge.codecs import DecodeError, make_codec
from snakepit_bridge.errors import FrameTooLarge
from snakepit_bridge.frame_reader import FrameReader, TruncatedFrame
from snakepit_bridge.frame_writer import FrameParts

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CODECS = ["msgpack", "json"]
UTC = dt.timezone.utc


def payload(encoded: bytes | FrameParts) -> bytes:
    return encoded.tobytes() if isinstance(encoded, FrameParts) else encoded


def decode_or_decode_error(codec: str, data: bytes) -> None:
    try:
        make_codec(codec).decode(data)
    except DecodeError:
        pass


# ------------------------------------------------------------------ values

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=40),
    st.datetimes(min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.dates(),
    st.decimals(allow_nan=True, allow_infinity=True, places=None).filter(lambda d: not d.is_snan()),
    st.frozensets(st.one_of(st.integers(), st.text(max_size=5)), max_size=4),
    hnp.arrays(
        dtype=st.sampled_from(["?", "i1", "u1", "<i2", "<u2", ">i4", "<u4", "<i8", ">u8", "<f4", "<f8"]),
        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.dictionaries(st.integers(), inner, min_size=1, max_size=3),
    ),
    max_leaves=12,
)


def same(a: Any, b: Any) -> bool:
    """Equality after a round trip: tuples become lists, frozensets sets, floats compare NaN-aware."""
    if isinstance(a, np.ndarray):
        return (
            isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and np.array_equal(a, b, equal_nan=True)
        )
    if isinstance(a, float):
        if math.isnan(a):
            return isinstance(b, float) and math.isnan(b)  # the sign of a NaN is not kept
        return isinstance(b, float) and a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Decimal):
        return isinstance(b, Decimal) and (a == b or (a.is_nan() and b.is_nan())) and str(a) == str(b)
    if isinstance(a, (list, tuple)):
        return isinstance(b, list) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, frozenset):
        return isinstance(b, set) and a == b
    if isinstance(a, bool) or a is None:
        return a is b
    return type(a) is type(b) and bool(a == b)


@pytest.mark.parametrize("codec", CODECS)
@FUZZ
@given(value=values)
def test_values_round_trip(codec: str, value: Any) -> None:
    c = make_codec(codec)
    assert same(value, c.decode(payload(c.encode([21, 1, value])))[2])


# ------------------------------------------------------------------ decoders


@pytest.mark.parametrize("codec", CODECS)
@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_decode_to_a_value_or_a_decode_error(codec: str, data: bytes) -> None:
    decode_or_decode_error(codec, data)


@pytest.mark.parametrize("codec", CODECS)
@FUZZ
@given(
    value=values,
    at=st.integers(min_value=0),
    byte=st.integers(0, 255),
    how=st.sampled_from(["cut", "flip", "huge", "insert"]),
)
def test_corrupted_encodings_decode_to_a_value_or_a_decode_error(
    codec: str, value: Any, at: int, byte: int, how: str
) -> None:
    data = bytearray(payload(make_codec(codec).encode([21, 1, value])))
    i = at % max(1, len(data))
    if how == "cut":
        del data[i:]
    elif how == "flip":
        data[i] = byte
    elif how == "insert":
        data.insert(i, byte)
    else:
        data[i : i + 4] = b"\xff\xff\xff\xff"
    decode_or_decode_error(codec, bytes(data))


@FUZZ
@given(code=st.sampled_from([-1, 1, 2, 3, 4, 5, 6, 0, 7, 99, -5]), data=st.binary(max_size=64))
def test_extension_payloads_decode_to_a_value_or_a_decode_error(code: int, data: bytes) -> None:
    decode_or_decode_error("msgpack", bytes([0xC7, len(data), code & 0xFF]) + data)


@FUZZ
@given(at=st.integers(0, 90), byte=st.integers(0, 255))
def test_corrupted_attachment_tables_decode_to_a_value_or_a_decode_error(at: int, byte: int) -> None:
    data = bytearray(payload(make_codec("msgpack").encode([b"x" * 70_000, np.ones(9000)])))
    data[at] = byte
    decode_or_decode_error("msgpack", bytes(data))


@pytest.mark.parametrize(
    "data",
    [
        b"\xdd\xff\xff\xff\xff",
        b"\xdf\xff\xff\xff\xff",
        b"\xdb\xff\xff\xff\xffa",
        b"\xc6\xff\xff\xff\xff",
        b"\x91" * 200_000,
    ],
)
def test_absurd_lengths_and_deep_nesting_are_decode_errors(data: bytes) -> None:
    with pytest.raises(DecodeError):
        make_codec("msgpack").decode(data)


def test_deep_json_is_a_decode_error() -> None:
    with pytest.raises(DecodeError):
        make_codec("json").decode(b"[" * 200_000 + b"]" * 200_000)


# ------------------------------------------------------------------ frames


@FUZZ
@given(data=st.binary(max_size=2000), chunk=st.integers(1, 700))
def test_the_frame_reader_gives_frames_or_a_defined_error(data: bytes, chunk: int) -> None:
    r, w = os.pipe()
    try:
        for i in range(0, len(data), chunk):
            os.write(w, data[i : i + chunk])
        os.close(w)
        w = -1
        try:
            for frame in FrameReader(r, 1024).frames():
                assert len(frame) <= 1024
        except (FrameTooLarge, TruncatedFrame):
            pass
    finally:
        os.close(r)
        if w >= 0:
            os.close(w)


# --------------------------------------------------------------- handshake

hello_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**60), max_value=2**60),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=20),
        st.binary(max_size=8),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
        st.dictionaries(st.integers(), inner, min_size=1, max_size=2),
    ),
    max_leaves=12,
)


@FUZZ
@given(hello_values)
def test_handshake_json_is_what_the_json_codec_writes(value: Any) -> None:
    import json

    from snakepit_bridge.handshake import encode_handshake
    from snakepit_bridge.json_codec import JsonCodec

    try:
        expected = JsonCodec().encode([20, value])
    except Exception as exc:  # noqa: BLE001 - then the handshake writer must fail the same way
        with pytest.raises(type(exc)):
            encode_handshake([20, value])
        return
    # Same document (the fast writer may differ only in insignificant ways, never in meaning).
    assert json.loads(encode_handshake([20, value])) == json.loads(expected)
