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
        # Every value has a header or delimiters of at least one byte, in both codecs.
        if isinstance(item, _SIZED):
            floor += len(item) + 1
        elif isinstance(item, memoryview):
            floor += item.nbytes + 1
        elif isinstance(item, (list, tuple, set, frozenset)):
            floor += 1  # the items count themselves when visited; each takes at least one byte
            if floor + len(item) > limit:
                floor += len(item)
                break
            stack.extend(item)
        elif isinstance(item, dict):
            floor += 1
            if floor + 2 * len(item) > limit:
                floor += 2 * len(item)
                break
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            # NumPy arrays (raw or base64: never fewer bytes than their data); a NumPy scalar may be a
            # short JSON number, so it counts one byte like any other value.
            nbytes = getattr(item, "nbytes", None)
            floor += nbytes if type(nbytes) is int and getattr(item, "ndim", 0) > 0 else 1
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
