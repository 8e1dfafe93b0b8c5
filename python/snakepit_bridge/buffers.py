"""Buffers to receive data into, without the cost of zero-filling them first.

``bytearray(n)`` writes n zeros before the data is read over them: on a fresh allocation that doubles
the memory traffic and takes every page fault twice. CPython's C API creates both ``bytearray`` and
``bytes`` of a given size with uninitialised contents (``PyByteArray_FromStringAndSize(NULL, n)``,
``PyBytes_FromStringAndSize(NULL, n)``); these helpers call them. A ``bytes`` is immutable once it is
shared, so its buffer is written only here, before the object is handed to anyone. On interpreters
other than CPython the plain constructors are used (``new_bytes`` is then None)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def _c_api() -> tuple[Callable[[int], bytearray], Callable[[int], tuple[bytes, memoryview]] | None]:
    def plain_bytearray(n: int) -> bytearray:
        return bytearray(n)

    if sys.implementation.name != "cpython":
        return plain_bytearray, None
    try:
        import ctypes

        api = ctypes.pythonapi
        sized = ctypes.PYFUNCTYPE(ctypes.py_object, ctypes.c_void_p, ctypes.c_ssize_t)
        make_bytearray = sized(("PyByteArray_FromStringAndSize", api))
        make_bytes = sized(("PyBytes_FromStringAndSize", api))
        address = ctypes.PYFUNCTYPE(ctypes.c_void_p, ctypes.py_object)(("PyBytes_AsString", api))
    except (ImportError, AttributeError, OSError):
        return plain_bytearray, None

    def uninitialised_bytearray(n: int) -> bytearray:
        buf: bytearray = make_bytearray(None, n)
        return buf

    def uninitialised_bytes(n: int) -> tuple[bytes, memoryview]:
        obj: bytes = make_bytes(None, n)
        view = memoryview((ctypes.c_char * n).from_address(address(obj))).cast("B")
        return obj, view

    return uninitialised_bytearray, uninitialised_bytes


_api: tuple[Callable[[int], bytearray], Callable[[int], tuple[bytes, memoryview]] | None] | None = None


def _loaded() -> tuple[Callable[[int], bytearray], Callable[[int], tuple[bytes, memoryview]] | None]:
    # ctypes is imported at the first frame larger than one read, not at every worker start (it is
    # about 1 ms and 0.5 MiB of a worker that may never receive one).
    global _api
    if _api is None:
        _api = _c_api()
    return _api


def new_bytearray(n: int) -> bytearray:
    """A bytearray of n bytes whose contents are not initialised."""
    return _loaded()[0](n)


def new_bytes() -> Callable[[int], tuple[bytes, memoryview]] | None:
    """What makes a bytes of n bytes and a writable view of its buffer, to fill before the bytes is
    shared; None where the interpreter offers no such thing."""
    return _loaded()[1]
