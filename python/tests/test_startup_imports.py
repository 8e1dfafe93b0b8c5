"""What a worker imports before its first call: every module costs start time (a worker on pipes
starts in about the time of a bare interpreter plus the bridge), so modules that only some pools or
some calls need are imported at their first use. A fresh interpreter shows what importing the
worker's entry point pulls in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: Imported only by what needs them: the socket transport, async tools, failures, data types, frames
#: larger than one read (ctypes), tools with batch= or cache=; enum (through signal) and importlib.util
#: are not needed at all.
LAZY = [
    *("socket", "asyncio", "traceback", "typing", "inspect", "subprocess", "decimal", "numpy", "pandas", "pyarrow"),
    *("ctypes", "enum", "importlib.util"),
    # The bridge's own: the batching and caching options.
    "snakepit_bridge.serving",
]


def _loaded_after(code: str) -> set[str]:
    code += "; print(','.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    return set(out.strip().split(","))


def test_the_worker_entry_point_imports_none_of_the_lazy_modules() -> None:
    loaded = _loaded_after("import sys, snakepit_bridge.__main__")
    assert [name for name in LAZY if name in loaded] == []


def test_loading_an_adapter_file_and_arming_the_lifeline_import_none_of_them(tmp_path: Path) -> None:
    adapter = tmp_path / "plain_adapter.py"
    adapter.write_text("from snakepit_bridge import tool\n\n@tool\ndef add(a, b):\n    return a + b\n")
    loaded = _loaded_after(
        "import sys; from snakepit_bridge import __main__, lifeline; from snakepit_bridge.adapter import load_adapter; "
        f"load_adapter({str(adapter)!r}); lifeline.install(None); assert __main__._has_numpy() in (True, False)"
    )
    assert "plain_adapter" in loaded
    assert [name for name in LAZY if name in loaded] == []


def test_the_fork_server_and_its_connect_back_import_neither_json_nor_socket(tmp_path: Path) -> None:
    # json (its decoder compiles regular expressions) and socket (it builds its enums) cost a zygote
    # milliseconds before its first fork; the control channel and the connect-back use the C modules.
    path = str(tmp_path / "s")
    loaded = _loaded_after(
        "import _socket, sys; from snakepit_bridge import zygote, __main__, transport; "
        f"server = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM); server.bind({path!r}); server.listen(1); "
        f"transport.open_channel({{'SNAKEPIT_CONNECT': {path!r}, 'SNAKEPIT_TOKEN': 'x'}}); "
        "zygote.decode_plain(zygote.encode_plain({'op': 'fork', 'id': 1}))"
    )
    assert "snakepit_bridge.zygote" in loaded
    assert [name for name in ("json", "socket") if name in loaded] == []
