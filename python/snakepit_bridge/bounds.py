"""maxPayload bounds the work of encoding, not only the frame written: before a result or chunk is
encoded, a walk sums a lower bound of its encoded size (the same for both codecs: a ``str`` takes at
least ``len`` bytes, ``bytes`` and arrays their size, every item of a container at least one byte)
and stops with ``FrameTooLarge`` as soon as that passes the limit. So a 2 GiB string is refused in
microseconds instead of being encoded (seconds, gigabytes, and a worker that stops answering pings).

The walk visits at most ``NODE_BUDGET`` values (at most about half a millisecond; a scalar result costs
one type test, a small dict about a microsecond); past that, the value is encoded and the frame
writer checks the real size, as before. A container longer than the limit is refused without a
walk, so the values that escape the early stop are those of more than ``NODE_BUDGET`` items whose
first ones are small (their encoding is then bounded by the encoder's own cost)."""

from __future__ import annotations

from .errors import FrameTooLarge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

NODE_BUDGET = 4096
_MAX_DEPTH = 64
#: Types whose encoding takes a few bytes at most: nothing to check before encoding them.
ONE_BYTE = frozenset({int, float, bool, type(None)})


class _Stop(Exception):
    """The walk has seen enough: over the limit (floor set), or out of budget."""


def check_payload(value: Any, limit: int) -> None:
    """Raise FrameTooLarge once a lower bound of ``value``'s encoded size passes ``limit``."""
    t = type(value)
    if t in ONE_BYTE:
        return
    if t is str or t is bytes or t is bytearray:
        if len(value) + 1 > limit:
            raise FrameTooLarge(len(value) + 1, limit)
        return
    floor = 0
    budget = NODE_BUDGET

    def walk(item: Any, depth: int) -> None:
        # Every value has a header or delimiters of at least one byte, in both codecs.
        nonlocal floor, budget
        budget -= 1
        if budget < 0 or depth > _MAX_DEPTH:
            raise _Stop
        ti = type(item)
        if ti in ONE_BYTE:
            floor += 1
            return
        if ti is str or ti is bytes or ti is bytearray:
            floor += len(item) + 1
        elif ti is dict:
            # Keys and values take a byte each at least; the values are walked (keys are short).
            floor += 1 + len(item)
            if floor + len(item) > limit:
                floor += len(item)
                raise _Stop
            for v in item.values():
                walk(v, depth + 1)
        elif ti is list or ti is tuple or ti is set or ti is frozenset:
            floor += 1
            if floor + len(item) > limit:
                floor += len(item)
                raise _Stop
            for v in item:
                walk(v, depth + 1)
        elif ti is memoryview:
            floor += item.nbytes + 1
        else:
            # NumPy arrays (raw or base64: never fewer bytes than their data); a NumPy scalar may be a
            # short JSON number, so it counts one byte like any other value.
            nbytes = getattr(item, "nbytes", None)
            floor += nbytes if type(nbytes) is int and getattr(item, "ndim", 0) > 0 else 1
        if floor > limit:
            raise _Stop

    try:
        walk(value, 0)
    except _Stop:
        pass
    except RecursionError:
        return
    if floor > limit:
        raise FrameTooLarge(floor, limit)


def bounded(encode: Callable[[Any], T], limit: int) -> Callable[[Any], T]:
    """``encode`` preceded by ``check_payload``."""

    def encode_bounded(value: Any) -> T:
        check_payload(value, limit)
        return encode(value)

    return encode_bounded
