"""Message codes and limits. ``protocol.json`` is the single definition shared with Node; these
constants are written out here so that a worker's start does not load and parse it, and
``tests/test_worker.py`` checks every one of them against the file."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final

VERSION: Final = 1
HEADER_BYTES: Final = 4
CODECS: Final = ("msgpack", "json")
ERROR_KINDS: Final = frozenset(
    {
        "python_error",
        "tool_not_found",
        "invalid_arguments",
        "encode_error",
        "cancelled",
        "payload_too_large",
        "protocol_error",
        "not_streaming",
        "host_tool_error",
        "permission_denied",
        "invalid_ref",
        "too_many_refs",
    }
)

# Messages, host to worker.
CALL: Final = 1
CANCEL: Final = 2
CREDIT: Final = 3
HOST_RESULT: Final = 4
PING: Final = 5
SESSION_END: Final = 6
SHUTDOWN: Final = 7
# Messages, worker to host.
HELLO: Final = 20
RESULT: Final = 21
ERROR: Final = 22
CHUNK: Final = 23
END: Final = 24
HOST_CALL: Final = 25
PONG: Final = 26
LOG: Final = 27
FATAL: Final = 28

# The "data" section: extension type codes and attachment layout (docs/data.md).
EXT_TIMESTAMP: Final = -1
EXT_NDARRAY: Final = 1
EXT_BYTES_REF: Final = 2
EXT_BIGINT: Final = 3
EXT_DECIMAL: Final = 4
EXT_SET: Final = 5
EXT_DATE: Final = 6
EXT_TABLE: Final = 7
ATTACHMENT_MARKER: Final = 193
ATTACHMENT_ALIGN: Final = 64
ATTACHMENT_MIN: Final = 65536
NDARRAY_ATTACHED: Final = 1
MAX_ENCODE_DEPTH: Final = 500
DTYPES: Final = ("b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8")


def spec() -> dict[str, Any]:
    """The whole protocol definition as read from ``protocol.json``, for tests that compare both sides."""
    import json
    from pathlib import Path

    result: dict[str, Any] = json.loads(Path(__file__).with_name("protocol.json").read_text())
    return result
