"""Message codes and limits, read from ``protocol.json``: the single definition shared with Node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

_SPEC: Final[dict[str, Any]] = json.loads((Path(__file__).with_name("protocol.json")).read_text())

VERSION: Final[int] = int(_SPEC["version"])
HEADER_BYTES: Final[int] = int(_SPEC["frame"]["header_bytes"])
CODECS: Final[tuple[str, ...]] = tuple(_SPEC["codecs"])
ERROR_KINDS: Final[frozenset[str]] = frozenset(_SPEC["error_kinds"])


def _code(name: str) -> int:
    return int(_SPEC["messages"][name]["code"])


CALL: Final = _code("call")
CANCEL: Final = _code("cancel")
CREDIT: Final = _code("credit")
HOST_RESULT: Final = _code("host_result")
PING: Final = _code("ping")
SESSION_END: Final = _code("session_end")
SHUTDOWN: Final = _code("shutdown")
HELLO: Final = _code("hello")
RESULT: Final = _code("result")
ERROR: Final = _code("error")
CHUNK: Final = _code("chunk")
END: Final = _code("end")
HOST_CALL: Final = _code("host_call")
PONG: Final = _code("pong")
LOG: Final = _code("log")
FATAL: Final = _code("fatal")


def spec() -> dict[str, Any]:
    """The whole protocol definition, for tests that compare both sides."""
    return _SPEC
