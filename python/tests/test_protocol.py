"""protocol.py is generated from protocol.json (scripts/gen-protocol.mjs): it must be current, and its
constants and builders must say what the definition says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from snakepit_bridge import protocol as P

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is needed to run the generator")
def test_the_generated_files_are_current() -> None:
    done = subprocess.run(
        ["node", str(ROOT / "scripts" / "gen-protocol.mjs"), "--check"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr


def test_constants_match_the_definition() -> None:
    spec = P.spec()
    assert P.VERSION == spec["version"]
    assert P.HEADER_BYTES == spec["frame"]["header_bytes"]
    assert list(P.CODECS) == spec["codecs"]
    assert set(spec["error_kinds"]) == P.ERROR_KINDS
    assert {k: list(v) for k, v in P.ERROR_FIELDS.items()} == {k: list(v) for k, v in spec["error_fields"].items()}
    for name, entry in spec["messages"].items():
        assert getattr(P, name.upper()) == entry["code"]
    for name, entry in spec["env"].items():
        key = name.removeprefix("SNAKEPIT_")
        assert getattr(P, f"ENV_{key}") == name
        assert getattr(P, f"DEFAULT_{key}", None) == entry["default"]
    for name, code in spec["data"]["ext"].items():
        assert getattr(P, f"EXT_{name.upper()}") == code


def test_builders_put_fields_in_the_defined_order() -> None:
    for name, entry in P.spec()["messages"].items():
        builder = getattr(P, f"{name}_message")
        fields = [f"<{f}>" for f in entry["fields"]]
        assert builder(*fields) == [entry["code"], *fields]


def test_codec_fast_paths_encode_what_the_builders_build() -> None:
    from snakepit_bridge.codecs import choose_codec

    for name in P.CODECS:
        codec = choose_codec([name])
        for value in (1, "s", None, 2.5, {"a": [1, 2]}):
            assert codec.encode_reply(P.RESULT, 7, value) == codec.encode(P.result_message(7, value))
            chunk = codec.message_encoder(P.chunk_message(7, None)[:-1])
            assert chunk(value) == codec.encode(P.chunk_message(7, value))


def test_hello_has_the_shape_of_the_definition() -> None:
    from harness import SHARED_FIXTURES, WorkerProcess

    shapes = P.spec()["shapes"]
    w = WorkerProcess(str(SHARED_FIXTURES / "basic.py"))
    hello = w.handshake()
    assert set(hello) == {k.rstrip("?") for k in shapes["hello_info"]}
    required_tool_keys = {k for k in shapes["wire_tool"] if not k.endswith("?")}
    param_keys = {k.rstrip("?") for k in shapes["tool_param"]}
    for tool in hello["tools"]:
        assert required_tool_keys <= set(tool) <= {k.rstrip("?") for k in shapes["wire_tool"]}
        for param in tool["params"]:
            assert set(param) <= param_keys
    assert w.close() == 0
