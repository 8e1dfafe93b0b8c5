"""pandas' NaT is a missing value: it travels as nil/None in both codecs, also from a UTC column."""

from __future__ import annotations

import pytest

from snakepit_bridge.codecs import choose_codec

pd = pytest.importorskip("pandas")


@pytest.mark.parametrize("codec_name", ["msgpack", "json"])
def test_nat_encodes_as_a_missing_value(codec_name: str) -> None:
    codec = choose_codec([codec_name])
    utc = pd.Series([pd.Timestamp("2024-01-02T03:04:05", tz="UTC"), pd.NaT], dtype="datetime64[us, UTC]")
    decoded = codec.decode(codec.encode([pd.NaT, utc.tolist(), {"when": utc.iloc[1]}]))
    assert decoded[0] is None
    assert decoded[1][1] is None and decoded[1][0].year == 2024
    assert decoded[2] == {"when": None}
