"""What a worker imports before its first call: every module costs start time (a worker on pipes
starts in about the time of a bare interpreter plus the bridge), so modules that only some pools or
some calls need are imported at their first use. A fresh interpreter shows what importing the
worker's entry point pulls in."""

from __future__ import annotations

import os
import subprocess
import sys

#: Imported only by what needs them: the socket transport, async tools, failures, data types.
LAZY = ["socket", "asyncio", "traceback", "typing", "inspect", "subprocess", "decimal", "numpy", "pandas", "pyarrow"]


def test_the_worker_entry_point_imports_none_of_the_lazy_modules() -> None:
    code = "import sys, snakepit_bridge.__main__; print(','.join(sorted(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(os.path.abspath(__file__)))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    loaded = set(out.strip().split(","))
    assert [name for name in LAZY if name in loaded] == []
