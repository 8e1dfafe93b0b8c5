"""The codecs as pure logic: the value mapping, wire bytes shared with Node, attachments, errors."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import msgpack
import numpy as np
import pytest

from snakepit_bridge import datatypes
from snakepit_bridge.codecs import DecodeError, MsgpackCodec, make_codec
from snakepit_bridge.errors import EncodeError
from snakepit_bridge.frame_writer import FrameParts
from snakepit_bridge.json_codec import JsonCodec

UTC = dt.timezone.utc
CODECS = ["msgpack", "json"]


def payload(encoded: bytes | FrameParts) -> bytes:
    return encoded.tobytes() if isinstance(encoded, FrameParts) else encoded


def roundtrip(codec_name: str, value: Any) -> Any:
    codec = make_codec(codec_name)
    return codec.decode(payload(codec.encode(value)))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (True, True),
        (-7, -7),
        (2**64 - 1, 2**64 - 1),
        (2**200 + 1, 2**200 + 1),
        (-(2**70), -(2**70)),
        (1.25, 1.25),
        (float("inf"), float("inf")),
        ("snake ✓", "snake ✓"),
        (b"\x00\xff", b"\x00\xff"),
        (bytearray(b"ab"), b"ab"),
        (memoryview(b"abcdef")[::2], b"ace"),
        (memoryview(np.arange(2, dtype="<u2")), b"\x00\x00\x01\x00"),
        ((1, (2, 3)), [1, [2, 3]]),
        ({1, "a"}, {1, "a"}),
        (frozenset({2}), {2}),
        ({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}),
        ({1: "x", "k": "y"}, {1: "x", "k": "y"}),
        ({"$bytes": "looks like a tag"}, {"$bytes": "looks like a tag"}),
        (dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)),
        (
            dt.datetime(2024, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=2))),
            dt.datetime(2023, 12, 31, 23, tzinfo=UTC),
        ),
        (dt.date(1, 1, 1), dt.date(1, 1, 1)),
        (dt.date(9999, 12, 31), dt.date(9999, 12, 31)),
        (Decimal("-1.10"), Decimal("-1.10")),
        (np.float32(0.5), 0.5),
        (np.int16(-3), -3),
        (np.bool_(False), False),
    ],
)
def test_values_round_trip(codec: str, value: Any, expected: Any) -> None:
    got = roundtrip(codec, value)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize("codec", CODECS)
def test_special_floats(codec: str) -> None:
    nan, neg_zero = roundtrip(codec, [float("nan"), -0.0])
    assert math.isnan(nan)
    assert math.copysign(1.0, neg_zero) == -1.0


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("dtype", ["?", "i1", "u1", "<i2", ">u2", "<i4", "<u4", ">i8", "<u8", "<f4", ">f8"])
@pytest.mark.parametrize("shape", [(5,), (2, 3), (0,), (), (3, 0, 2)])
def test_arrays_round_trip(codec: str, dtype: str, shape: tuple[int, ...]) -> None:
    arr = (np.arange(int(np.prod(shape))) % 5).astype(dtype).reshape(shape)
    got = roundtrip(codec, arr)
    assert isinstance(got, np.ndarray)
    assert got.dtype == arr.dtype and got.shape == arr.shape
    assert np.array_equal(got, arr)
    assert got.flags.writeable


@pytest.mark.parametrize("codec", CODECS)
def test_non_contiguous_arrays_are_sent_in_c_order(codec: str) -> None:
    arr = np.arange(24, dtype="<i4").reshape(4, 6)[::2, 1::2]
    assert np.array_equal(roundtrip(codec, arr), arr)
    fortran = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    got = roundtrip(codec, fortran)
    assert got.flags.c_contiguous and np.array_equal(got, fortran)


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(
    ("value", "message"),
    [
        (dt.datetime(2024, 1, 1), "naive datetime 2024-01-01T00:00:00"),
        (1 + 2j, "Python type complex"),
        (object(), "Python type object"),
        (dt.timedelta(seconds=1), "Python type datetime.timedelta"),
        (np.zeros(2, dtype=object), "dtype object"),
        (np.zeros(2, dtype="S4"), "dtype |S4"),
        (np.zeros(2, dtype="c8"), "dtype complex64"),
        (np.zeros(2, dtype="f16"), "dtype float128"),
        (np.zeros(2, dtype="M8[5s]"), "dtype datetime64[5s]"),
        (np.zeros(2, dtype=[("a", "i4")]), "dtype [('a', '<i4')]"),
        (np.ma.masked_array([1, 2], mask=[0, 1]), "masked array"),
        (np.complex64(1), "NumPy scalar of dtype complex64"),
        ("\udc80", "unpaired surrogates"),
    ],
)
def test_values_without_mapping_name_their_type(codec: str, value: Any, message: str) -> None:
    with pytest.raises(EncodeError) as info:
        make_codec(codec).encode([21, 1, {"nested": [value]}])
    assert message in str(info.value)


@pytest.mark.parametrize("codec", CODECS)
def test_cyclic_values_are_refused(codec: str) -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    with pytest.raises(EncodeError, match="nested"):
        make_codec(codec).encode(cyclic)


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        # the same bytes the Node encoder writes (test/codec.test.ts)
        ([1, "a", None, True, False], "9501a161c0c3c2"),
        (2**64 - 1, "cfffffffffffffffff"),
        (dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC), "d6ff00000001"),
        (dt.datetime(1970, 1, 1, 0, 0, 1, 500000, tzinfo=UTC), "d7ff7735940000000001"),
        (dt.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC), "c70cff3b8b87c0ffffffffffffffff"),
        (dt.date(1970, 1, 2), "d60600000001"),
        (Decimal("1.5"), "c70304312e35"),
        (2**64, "c70903010000000000000000"),
        (-(2**64), "c70903ff0000000000000000"),
    ],
)
def test_wire_bytes_match_the_node_side(value: Any, hex_bytes: str) -> None:
    codec = MsgpackCodec()
    assert payload(codec.encode(value)).hex() == hex_bytes
    assert codec.decode(bytes.fromhex(hex_bytes)) == value


def test_large_binary_values_become_attachments_without_a_copy() -> None:
    codec = MsgpackCodec()
    big = b"x" * datatypes.ATTACHMENT_MIN
    arr = np.arange(20_000, dtype="<f8")
    encoded = codec.encode([21, 1, {"big": big, "arr": arr, "small": b"s"}])
    assert isinstance(encoded, FrameParts)
    views = [p for p in encoded.parts if isinstance(p, memoryview)]
    assert any(v.obj is big for v in views), "the bytes object itself is written"
    assert any(np.shares_memory(np.frombuffer(v, dtype=np.uint8), arr) for v in views), "so is the array"
    data = encoded.tobytes()
    assert len(data) == encoded.size
    assert data[0] == datatypes.ATTACHMENT_MARKER
    body_end = 5 + int.from_bytes(data[1:5], "big")
    count = int.from_bytes(data[body_end : body_end + 4], "big")
    offsets = [int.from_bytes(data[body_end + 4 + 8 * i : body_end + 8 + 8 * i], "big") for i in range(count)]
    assert count == 2 and all(o % datatypes.ATTACHMENT_ALIGN == 0 for o in offsets)

    frame = bytearray(data)
    out = codec.decode(memoryview(frame))
    assert out[2]["big"] == big and out[2]["small"] == b"s"
    got = out[2]["arr"]
    assert np.array_equal(got, arr)
    assert np.shares_memory(got, np.frombuffer(frame, dtype=np.uint8)), "a received array is a view over the frame"
    assert got.flags.writeable


def test_an_array_in_a_read_only_frame_is_copied_so_it_is_writable() -> None:
    codec = MsgpackCodec()
    data = payload(codec.encode(np.ones(20_000)))
    got = codec.decode(data)
    assert got.flags.writeable and got.sum() == 20_000


def test_without_numpy_arrays_arrive_as_memoryviews(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(datatypes, "_numpy", None)
    codec = MsgpackCodec()
    wire = payload(MsgpackCodec().encode([np.arange(6, dtype="<i4").reshape(2, 3), np.arange(3, dtype=">u8")]))
    a, b = codec.decode(wire)
    assert isinstance(a, memoryview) and a.format == "i" and a.shape == (2, 3) and a.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert isinstance(b, memoryview) and b.format == "Q" and b.tolist() == [0, 1, 2], "big-endian data is swapped"
    empty = codec.decode(payload(MsgpackCodec().encode(np.zeros((0, 3)))))
    assert isinstance(empty, memoryview) and empty.nbytes == 0


def test_json_tags_and_escapes() -> None:
    codec = JsonCodec()
    text = codec.encode([float("nan"), 2**64, b"hi", {"$set": 1}, {1: 2}, dt.date(2020, 1, 2)]).decode()
    assert text == (
        '[{"$float":"NaN"},{"$bigint":"0x10000000000000000"},{"$bytes":"aGk="},'
        '{"$object":[["$set",1]]},{"$map":[[1,2]]},{"$date":"2020-01-02"}]'
    )
    when = codec.decode(b'{"$datetime":"2020-05-06T07:08:09.010Z"}')
    assert when == dt.datetime(2020, 5, 6, 7, 8, 9, 10000, tzinfo=UTC)
    assert codec.decode(b'{"$bigint":"-0xff"}') == -255
    # hexadecimal, so integers of any size convert (int() limits decimal strings to 4300 digits)
    assert codec.decode(b'{"$bigint":"0x' + b"f" * 5000 + b'"}') == int("f" * 5000, 16)


@pytest.mark.parametrize(
    "data",
    [
        b"\xc1",
        b"\xc1\x00\x00\x00\x01\xc0\x00\x00\x00\x01\x00\x00\x00\x09\x00\x00\x00\x01",
        b"\xc7\x04\x02\x00\x00\x00\x00",
        b"\xc7\x01\x2a\x00",
        b"\xc7\x00\x03",
        b"\xc7\x03\x04abc",
        b"\xc7\x04\x06\x7f\xff\xff\xff",
        b"\xc7\x02\x05\x91\x91",
        b"\xc7\x03\x05\x91\x90\x90",
        b"\xc7\x04\x01\x00\x03<c8",
        b"\xc7\x0f\x01\x00\x03<f8\x01\x00\x00\x00\x00\x00\x00\x00\x02\x00",
        b"\x91" * 5000,
        b"\x82\x90\x01\xc0\xc0",
        b"\xd6\xff\xff\xff\xff\xff" + b"\xc7\x0c\xff" + b"\xff" * 12,
    ],
)
def test_malformed_msgpack_is_a_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        MsgpackCodec().decode(data)


@pytest.mark.parametrize(
    "text",
    [
        b"[",
        b"\xff",
        b'{"$nope":1}',
        b'{"$bytes":"!!"}',
        b'{"$ndarray":["<f8",[2],"AAAA"]}',
        b'{"$set":[[1]]}',
        b'{"$datetime":"2020-01-01T00:00:00"}',
        b'{"$bigint":"12"}',
        b"[" * 100_000,
    ],
)
def test_malformed_json_is_a_decode_error(text: bytes) -> None:
    with pytest.raises(DecodeError):
        JsonCodec().decode(text)


def test_sets_from_node_decode() -> None:
    assert MsgpackCodec().decode(bytes.fromhex("c90000000305920102")) == {1, 2}


def test_msgpack_timestamps_decode_as_aware_datetimes() -> None:
    ts = msgpack.packb(msgpack.Timestamp(1, 0))
    assert MsgpackCodec().decode(ts) == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)


class BrokenZone(dt.tzinfo):
    def utcoffset(self, d: dt.datetime | None) -> dt.timedelta:
        raise RuntimeError("this time zone is broken")


@pytest.mark.parametrize("codec", CODECS)
def test_any_failure_while_encoding_is_an_encode_error(codec: str) -> None:
    with pytest.raises(EncodeError, match="RuntimeError: this time zone is broken"):
        make_codec(codec).encode([21, 1, {"when": dt.datetime(2020, 1, 1, tzinfo=BrokenZone())}])


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("call_id", [7, 300, 2**40])
@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        -7,
        2**64 - 1,
        2**200 + 1,
        1.25,
        float("nan"),
        "snake ✓",
        b"\x00\xff",
        b"x" * datatypes.ATTACHMENT_MIN,
        [1, "a", None, 2.5],
        [1, [2, 3]],
        {"token": "hi", "n": 3},
        {"big": 2**70},
        {1: "x"},
        (1, 2),
        bytearray(b"ab"),
        dt.date(2024, 1, 2),
        np.arange(20_000, dtype="<f8"),
    ],
)
def test_a_message_encoder_encodes_what_encode_does(codec: str, call_id: int, value: Any) -> None:
    c = make_codec(codec)
    encode = c.message_encoder([23, call_id])
    for _ in range(2):  # the second time through a reused packer
        assert payload(encode(value)) == payload(c.encode([23, call_id, value]))


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("value", ["\udc80", ["\udc80"], {"k": "\udc80"}, object()])
def test_a_message_encoder_refuses_what_encode_refuses_and_goes_on(codec: str, value: Any) -> None:
    c = make_codec(codec)
    encode = c.message_encoder([23, 1])
    with pytest.raises(EncodeError) as info:
        encode(value)
    with pytest.raises(EncodeError) as expected:
        c.encode([23, 1, value])
    assert str(info.value) == str(expected.value)
    assert payload(encode(5)) == payload(c.encode([23, 1, 5]))
