"""maxPayload bounds the work of encoding, not only the frame written: before a result or chunk is
encoded, a walk sums a lower bound of its encoded size (the same for both codecs: a ``str`` takes at
least ``len`` bytes, ``bytes`` and arrays their size, every item of a container at least one byte)
and stops with ``FrameTooLarge`` as soon as that passes the limit. So a 2 GiB string is refused in
microseconds instead of being encoded (seconds, gigabytes, and a worker that stops answering pings).

The walk visits at most ``NODE_BUDGET`` values; past that, the value is encoded and the frame writer
checks the real size, as before. A container longer than the limit is refused without a walk."""

from __future__ import annotations

from .errors import FrameTooLarge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

NODE_BUDGET = 65536
_SIZED = (str, bytes, bytearray)


def check_payload(value: Any, limit: int) -> None:
    """Raise FrameTooLarge once a lower bound of ``value``'s encoded size passes ``limit``."""
    t = type(value)
    if t is int or t is float or t is bool or value is None:
        return
    floor = 0
    budget = NODE_BUDGET
    stack = [value]
    while stack:
        item = stack.pop()
        budget -= 1
        if budget < 0:
            return
        if isinstance(item, _SIZED):
            floor += len(item)
        elif isinstance(item, memoryview):
            floor += item.nbytes
        elif isinstance(item, (list, tuple, set, frozenset)):
            floor += len(item)
            if floor > limit:
                break
            stack.extend(item)
        elif isinstance(item, dict):
            floor += 2 * len(item)
            if floor > limit:
                break
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            nbytes = getattr(item, "nbytes", None)  # NumPy arrays and scalars
            floor += nbytes if type(nbytes) is int else 1
        if floor > limit:
            break
    if floor > limit:
        raise FrameTooLarge(floor, limit)


def bounded(encode: Callable[[Any], T], limit: int) -> Callable[[Any], T]:
    """``encode`` preceded by ``check_payload``."""

    def encode_bounded(value: Any) -> T:
        check_payload(value, limit)
        return encode(value)

    return encode_bounded
