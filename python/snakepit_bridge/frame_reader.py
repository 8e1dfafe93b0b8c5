"""Length-prefixed frames on a pipe: a 4-byte big-endian length, then the encoded message; here the
format and reading it (writing is ``frame_writer``).

A length above the maximum is refused before anything is allocated for it. A large frame that
carries attachments is not read into one buffer: the reader yields an ``AttachedFrame`` holding the
message and the attachment table, and the decoder reads each attachment from the pipe straight into
the object it becomes (a ``bytes`` or a NumPy array)."""

from __future__ import annotations

import os
import select
import struct

from .buffers import new_bytearray
from .errors import FrameTooLarge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

#: The frame header: the payload's length.
HEADER = struct.Struct(">I")
#: Bytes asked of the pipe per read (frames up to this size are also written from one buffer).
READ_SIZE = 1 << 16
#: First byte of a payload with attachments (0xc1 is never used by MessagePack); see datatypes.
_MARKER = 0xC1


class TruncatedFrame(EOFError):
    """The pipe closed in the middle of a frame."""

    def __init__(self, received: int, expected: int | None) -> None:
        what = f"a frame of {expected} bytes" if expected is not None else "a frame header"
        super().__init__(f"the pipe closed in the middle of {what} ({received} bytes received)")
        self.received = received
        self.expected = expected


def allocate(n: int) -> memoryview:
    """A writable buffer of ``n`` bytes to receive a frame into (not zero-filled first)."""
    return memoryview(new_bytearray(n))


class _Source:
    """The rest of one frame: bytes already read from the pipe, then the pipe itself."""

    def __init__(self, fd: int, start: memoryview, size: int) -> None:
        self._fd = fd
        self._pending = start
        self.size = size
        self.pos = 0

    def readinto(self, view: memoryview) -> None:
        n = view.nbytes
        if self.pos + n > self.size:
            raise ValueError("read past the end of the frame")
        take = min(n, self._pending.nbytes)
        if take:
            view[:take] = self._pending[:take]
            self._pending = self._pending[take:]
        done = take
        while done < n:
            got = os.readv(self._fd, [view[done:]])
            if got == 0:
                raise TruncatedFrame(self.pos + done, self.size)
            done += got
        self.pos += n

    def peek(self) -> int:
        """The next byte, without consuming it."""
        if self._pending.nbytes == 0:
            first = os.read(self._fd, READ_SIZE if self.size - self.pos > READ_SIZE else self.size - self.pos)
            if not first:
                raise TruncatedFrame(self.pos, self.size)
            self._pending = memoryview(first)
        return int(self._pending[0])

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        self.readinto(memoryview(buf))
        return bytes(buf)

    def discard(self, n: int) -> None:
        scratch = memoryview(bytearray(min(n, READ_SIZE)))
        while n > 0:
            step = min(n, scratch.nbytes)
            self.readinto(scratch[:step])
            n -= step

    def finish(self) -> None:
        """Consume what is left of the frame, so that the next frame starts where it should."""
        self.discard(self.size - self.pos)


class AttachedFrame:
    """A frame whose attachments are still in the pipe.

    ``head`` holds the marker, the message body and the attachment table; ``table`` lists the
    (offset, length) of each attachment from the start of the payload. ``fill`` reads the attachments,
    in order, into the buffers given for them (attachments without one are skipped). Whatever is not
    read when the reader moves on is skipped, so framing always stays intact."""

    __slots__ = ("head", "body", "table", "size", "_source")

    def __init__(self, head: bytes, body: memoryview, table: list[tuple[int, int]], source: _Source) -> None:
        self.head = head
        self.body = body
        self.table = table
        self.size = source.size
        self._source = source

    def __len__(self) -> int:
        return self.size

    def fill(self, targets: Mapping[int, memoryview]) -> None:
        source = self._source
        if source.pos != len(self.head):
            raise ValueError("the attachments of this frame were already read")
        for index, (offset, length) in enumerate(self.table):
            source.discard(offset - source.pos)
            target = targets.get(index)
            if target is None:
                source.discard(length)
            else:
                if target.nbytes != length:
                    raise ValueError(f"attachment {index} has {length} bytes, its target {target.nbytes}")
                source.readinto(target)
        source.finish()

    def __bytes__(self) -> bytes:
        """The whole payload in one buffer (reads the attachments)."""
        source = self._source
        if source.pos != len(self.head):
            raise ValueError("the attachments of this frame were already read")
        rest = memoryview(bytearray(self.size - source.pos))
        source.readinto(rest)
        return self.head + bytes(rest)


def _read_head(source: _Source) -> AttachedFrame | bytes:
    """Reads marker, body and attachment table. When they do not describe a valid attachment frame,
    returns the bytes read so far instead: the caller then reads the frame whole, for the decoder to
    reject with a precise error."""
    size = source.size
    start = source.read(5)
    body_length = int.from_bytes(start[1:5], "big")
    if 9 + body_length > size:
        return start
    body_and_count = source.read(body_length + 4)
    count = int.from_bytes(body_and_count[-4:], "big")
    table_end = 9 + body_length + 8 * count
    if table_end > size:
        return start + body_and_count
    raw_table = source.read(8 * count)
    head = start + body_and_count + raw_table
    table: list[tuple[int, int]] = []
    previous_end = table_end
    for i in range(count):
        offset, length = struct.unpack_from(">II", raw_table, 8 * i)
        if offset < previous_end or offset + length > size:
            return head
        previous_end = offset + length
        table.append((offset, length))
    return AttachedFrame(head, memoryview(head)[5 : 5 + body_length], table, source)


class FrameReader:
    """Reads frames from a file descriptor. A length above ``max_payload`` is refused before any
    allocation: the caller gets ``FrameTooLarge`` and the stream is no longer usable. A pipe that
    closes in the middle of a frame raises ``TruncatedFrame``."""

    def __init__(self, fd: int, max_payload: int) -> None:
        self._fd = fd
        self._max = max_payload
        #: Bytes read from the pipe and not yet yielded as frames.
        self.buffered = 0
        #: Whether the next frame is already complete in the buffer (reading it will not block).
        self.next_ready = False

    @property
    def fd(self) -> int:
        return self._fd

    def wait_readable(self, timeout: float) -> bool:
        """True when the next frame can be read without waiting longer than ``timeout`` seconds for
        the pipe (bytes already buffered count as readable)."""
        if self.buffered:
            return True
        ready, _, _ = select.select([self._fd], [], [], max(0.0, timeout))
        return bool(ready)

    def frames(self) -> Iterator[bytes | memoryview | AttachedFrame]:
        """The frames, in order. Every read lands in one buffer that lives as long as the reader; a
        frame is copied out of it whole, and the one partial frame a read may end with is kept aside,
        so nothing yielded refers to the buffer. ``os.read`` allocated a read's worth (64 KiB) and
        shrank it to what arrived, at every read: a long-running worker's heap fragmented and its RSS
        crept up with the calls it served (docs/architecture.md, Decisions)."""
        fd, max_payload = self._fd, self._max
        store = memoryview(bytearray(READ_SIZE))
        into = [store]  # os.readv's list of buffers, built once
        readv, header = os.readv, HEADER.unpack_from
        carry = b""  # the start of a frame that the previous read ended with
        while True:
            got = readv(fd, into)
            if got > 4 and not carry:
                # Most reads while calls come one at a time: exactly one whole frame. A third of the
                # general loop's work below; ``buffered`` and ``next_ready`` are already 0 and False,
                # as the previous read ended where a frame did.
                (n,) = header(store, 0)
                if n + 4 == got and n <= max_payload:
                    yield store[4:got].tobytes()
                    continue
            if not got:
                if carry:
                    expected = header(carry)[0] if len(carry) >= 4 else None
                    raise TruncatedFrame(len(carry), expected)
                return
            buf = memoryview(carry + store[:got]) if carry else store
            pos, size = 0, len(carry) + got
            while size - pos >= 4:
                (n,) = header(buf, pos)
                if n > max_payload:
                    raise FrameTooLarge(n, max_payload)
                end = pos + 4 + n
                if end <= size:
                    left = size - end
                    self.buffered = left
                    self.next_ready = left >= 4 and end + 4 + header(buf, end)[0] <= size
                    yield buf[pos + 4 : end].tobytes()
                    pos = end
                    continue
                if n > READ_SIZE:
                    self.buffered = 0
                    self.next_ready = False
                    # The start of the frame is read from the buffer in place: nothing is read
                    # into it again until this frame has been consumed.
                    yield from self._large(buf[pos + 4 : size], n)
                    pos = size
                break
            carry = buf[pos:size].tobytes() if pos < size else b""

    def _large(self, start: memoryview, n: int) -> Iterator[memoryview | AttachedFrame]:
        """A frame larger than one read: streamed attachments, or one buffer of the right size."""
        source = _Source(self._fd, start, n)
        if source.peek() == _MARKER:
            head = _read_head(source)
            if isinstance(head, AttachedFrame):
                yield head
                source.finish()
                return
            payload = allocate(n)
            payload[: len(head)] = head
            source.readinto(payload[len(head) :])
            yield payload
            return
        payload = allocate(n)
        source.readinto(payload)
        yield payload
