"""Large binary values as attachments (docs/data.md): on encode, ``lift`` takes the large
``bytes``-like values out of a message, leaving a ``BytesRef`` to each, and ``assemble`` lays out
the payload (marker, message, attachment table, then the attachments, aligned), which the frame
writer sends without copying them; on decode, ``split`` reads that layout from a payload in memory
(a payload whose attachments are still in the pipe is read by ``frame_reader``)."""

from __future__ import annotations

from .datatypes import ATTACHMENT_MARKER, ATTACHMENT_MIN, DecodeError, align_up
from .frame_writer import FrameParts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Nodes of a message searched for large binary values to send as attachments, and how deep; values
#: past these bounds go inline (correct, with one more copy).
LIFT_BUDGET = 4096
_LIFT_DEPTH = 32


class BytesRef:
    """Stands in for a large binary value while the message is packed."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index


def lift(value: Any, blobs: list[memoryview], budget: list[int], depth: int = 0) -> Any:
    """``value`` with each large ``bytes``-like replaced by a ``BytesRef`` to ``blobs`` (copied containers
    only where something changed). Non-contiguous memoryviews become bytes."""
    budget[0] -= 1
    t = type(value)
    if t is bytes or t is bytearray or t is memoryview:
        view = value if t is memoryview else memoryview(value)
        if not view.c_contiguous:
            view = memoryview(view.tobytes())
            value = view.obj
        if view.nbytes >= ATTACHMENT_MIN:
            blobs.append(view.cast("B") if view.format != "B" or view.ndim != 1 else view)
            return BytesRef(len(blobs) - 1)
        return value
    if depth >= _LIFT_DEPTH:
        return value
    if t is list or t is tuple or t is dict:
        # A copy (a tuple becomes a list, as it is sent) only once an item was lifted.
        out: Any = None
        for key, item in value.items() if t is dict else enumerate(value):
            if budget[0] <= 0:
                break
            new = lift(item, blobs, budget, depth + 1)
            if new is not item:
                if out is None:
                    out = dict(value) if t is dict else list(value)
                out[key] = new
        return value if out is None else out
    return value


def assemble(body: bytes, blobs: list[memoryview]) -> FrameParts:
    """Marker, body length, body, attachment table and padding in one head; then the attachments."""
    count = len(blobs)
    head_length = 1 + 4 + len(body) + 4 + 8 * count
    table = bytearray()
    offset = align_up(head_length)
    parts: list[bytes | bytearray | memoryview] = []
    end = 0
    for blob in blobs:
        # Past 4 GiB the frame writer refuses the frame (FrameTooLarge) before writing anything.
        table += min(offset, 0xFFFFFFFF).to_bytes(4, "big") + min(blob.nbytes, 0xFFFFFFFF).to_bytes(4, "big")
        if end:
            parts.append(bytes(offset - end))
        parts.append(blob)
        end = offset + blob.nbytes
        offset = align_up(end)
    head = b"".join(
        (
            bytes((ATTACHMENT_MARKER,)),
            len(body).to_bytes(4, "big"),
            body,
            count.to_bytes(4, "big"),
            bytes(table),
            bytes(align_up(head_length) - head_length),
        )
    )
    return FrameParts([head, *parts], end)


def split(frame: memoryview) -> tuple[memoryview, list[tuple[int, int]]]:
    """The body and the attachment table of a payload with attachments held in memory."""
    size = frame.nbytes
    if size < 9:
        raise DecodeError("truncated attachment header")
    body_length = int.from_bytes(frame[1:5], "big")
    body_end = 5 + body_length
    if body_end + 4 > size:
        raise DecodeError(f"body of {body_length} bytes runs past the payload")
    count = int.from_bytes(frame[body_end : body_end + 4], "big")
    table_end = body_end + 4 + 8 * count
    if table_end > size:
        raise DecodeError(f"table of {count} attachments runs past the payload")
    table: list[tuple[int, int]] = []
    previous_end = table_end
    for i in range(count):
        at = body_end + 4 + 8 * i
        offset = int.from_bytes(frame[at : at + 4], "big")
        length = int.from_bytes(frame[at + 4 : at + 8], "big")
        if offset < previous_end or offset + length > size:
            raise DecodeError(f"attachment {i} ({length} bytes at {offset}) overlaps or runs past the payload")
        previous_end = offset + length
        table.append((offset, length))
    return frame[5:body_end], table
