"""The python-shell contender's script: JSON lines on stdin (``{"id", "fn", "args"}``), one JSON line
per reply on stdout (``{"id", "value"}``), calling the functions of work.py."""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import work

FUNCS = {name: getattr(work, name) for name in dir(work) if not name.startswith("_")}


def main() -> None:
    out = sys.stdout
    for line in sys.stdin:
        msg = json.loads(line)
        out.write(json.dumps({"id": msg["id"], "value": FUNCS[msg["fn"]](**msg["args"])}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
