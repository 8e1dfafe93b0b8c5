"""The ``datetime`` module a worker gets on Python 3.10 and 3.11 (fast_datetime.py): the same module
``import datetime`` gives, built without running the pure-Python half of ``datetime.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BRIDGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Prints what a program can see of ``datetime``: its names with each value's type (and the value of
#: plain constants), where it comes from, a pickled round trip, and whether ``datetime.py`` ran (an audit
#: hook sees the import system exec its code; PREFIX installs it before anything imports ``datetime``).
PREFIX = """
import sys
RAN = []
def hook(event, args):
    if event == "exec" and args[0].co_filename.endswith("/datetime.py"):
        RAN.append(1)
sys.addaudithook(hook)
"""
DESCRIBE = """
import datetime, pickle, sys
names = sorted((k, type(v).__name__, v if isinstance(v, (int, str, tuple)) else None)
               for k, v in vars(datetime).items() if k not in ("__spec__", "__loader__", "__builtins__"))
print(names)
print(datetime.__spec__.name, datetime.__spec__.origin, type(datetime.__loader__).__name__)
print(sorted(vars(datetime)["__builtins__"]) == sorted(vars(__builtins__)))
print(datetime.datetime is __import__("_datetime").datetime)
when = datetime.datetime(2024, 2, 29, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
print(pickle.loads(pickle.dumps(when)) == when, when.isoformat())
print("RAN", bool(RAN))
"""


def _run(code: str, *, cwd: str | None = None) -> str:
    env = {**os.environ, "PYTHONPATH": BRIDGE_PARENT}
    return subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12's own datetime.py does what install() does")
def test_a_worker_sees_the_same_datetime_module_as_import_datetime_gives() -> None:
    standard = _run(PREFIX + DESCRIBE)
    bridged = _run(PREFIX + "import snakepit_bridge\n" + DESCRIBE)
    assert "RAN True" in standard  # the check can tell the two apart
    assert "RAN False" in bridged
    assert bridged.replace("RAN False", "RAN True") == standard


FAST_DATETIME = os.path.join(BRIDGE_PARENT, "snakepit_bridge", "fast_datetime.py")
#: Runs fast_datetime.py alone (not through the package, which imports ``datetime`` itself) as ``fd``;
#: running it installs the module where it can, so tests that need none imported pop it after.
LOAD_ALONE = f"import sys; fd = {{}}; exec(compile(open({FAST_DATETIME!r}).read(), 'fd', 'exec'), fd); "


def test_install_does_nothing_when_datetime_is_imported_already() -> None:
    assert _run("import datetime; " + LOAD_ALONE + "print(fd['install']())").strip() == "False"


def test_install_leaves_a_datetime_py_ahead_on_sys_path_to_the_import_system(tmp_path: Path) -> None:
    (tmp_path / "datetime.py").write_text("MINE = True\n")
    code = LOAD_ALONE + "print('datetime' in sys.modules, fd['install']()); import datetime; print(datetime.MINE)"
    assert _run(code, cwd=str(tmp_path)).split() == ["False", "False", "True"]


def test_install_does_nothing_where_the_standard_library_has_no_file() -> None:
    code = "import os; del os.__file__; " + LOAD_ALONE + "sys.modules.pop('datetime', None); print(fd['install']())"
    assert _run(code).strip() == "False"


def test_install_builds_the_module_when_none_is_imported_and_only_before_312() -> None:
    code = (
        LOAD_ALONE + "sys.modules.pop('datetime', None); print(fd['install']()); "
        "import datetime; print(datetime.date(2020, 1, 1).toordinal())"
    )
    assert _run(code).split() == [str(sys.version_info < (3, 12)), "737425"]
