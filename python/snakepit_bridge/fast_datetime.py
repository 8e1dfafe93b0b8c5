"""``datetime`` as Python 3.12 builds it, on Python 3.10 and 3.11.

On those releases the standard library's ``datetime.py`` defines its whole pure-Python implementation
(about 2,500 lines: classes, helpers, constants), then imports the C accelerator ``_datetime`` over it
and deletes what it defined. Every worker imports ``datetime`` before its first call (msgpack does, for
its timestamps), so every worker start paid for that (docs/architecture.md, Decisions). Python 3.12
moved the pure-Python code to ``_pydatetime``; its ``datetime.py`` only imports ``_datetime``.

Importing this module runs ``install()``, which does what 3.12's ``datetime.py`` does: it builds the
``datetime`` module from ``_datetime``, with the standard module's spec (``__file__``, ``__loader__``,
``__spec__``), the same public names, ``__all__`` and ``__doc__``. It does nothing when ``datetime`` is
imported already, on 3.12 or later, without ``_datetime``, where the standard library has no folder
(``os.__file__`` unset, as in some frozen applications), or when ``import datetime`` would find another
file than the standard library's (a ``datetime.py`` on ``sys.path`` ahead of it).
"""

from __future__ import annotations

import os
import sys

#: The standard ``datetime`` module's ``__all__`` (3.10 has no ``UTC``).
_ALL = ("date", "datetime", "time", "timedelta", "timezone", "tzinfo", "MINYEAR", "MAXYEAR", "UTC")


def install() -> bool:
    """Put the ``datetime`` module in ``sys.modules`` without running ``datetime.py``; True if it did."""
    if sys.version_info >= (3, 12) or "datetime" in sys.modules:
        return False
    try:
        c_module = __import__("_datetime")  # (no stub for mypy to read)
    except ImportError:
        return False
    # The import system's own classes, loaded at interpreter start: nothing to import.
    bootstrap = sys.modules["_frozen_importlib"]
    stdlib = getattr(os, "__file__", None)  # absent where the standard library is frozen into an app
    spec = sys.modules["_frozen_importlib_external"].PathFinder.find_spec("datetime")
    if stdlib is None or spec is None or spec.origin != os.path.join(os.path.dirname(stdlib), "datetime.py"):
        return False
    module = bootstrap.module_from_spec(spec)
    namespace = module.__dict__
    for name, value in vars(c_module).items():
        if not name.startswith("_"):
            namespace[name] = value
    namespace["__doc__"] = c_module.__doc__
    namespace["__all__"] = tuple(name for name in _ALL if name in namespace)
    namespace["sys"] = sys
    namespace["__builtins__"] = sys.modules["builtins"].__dict__
    sys.modules["datetime"] = module
    return True


install()
