"""Length-prefixed frames on a pipe: a 4-byte big-endian length, then the encoded message.

A frame is written from one buffer or from several parts (``FrameParts``: the message, then large
binary values as attachments), without copying the parts. A length above the maximum is refused
before anything is allocated for it, on both ends.

A large frame that carries attachments is not read into one buffer: the reader yields an
``AttachedFrame`` holding the message and the attachment table, and the decoder reads each
attachment from the pipe straight into the object it becomes (a ``bytes`` or a NumPy array)."""

from __future__ import annotations

import os
import select
import struct
import threading
import time

from .buffers import new_bytearray
from .errors import FrameTooLarge

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

_HEADER = struct.Struct(">I")
_pack_header = _HEADER.pack
_READ_SIZE = 1 << 16
_IOV_MAX = 512
#: First byte of a payload with attachments (0xc1 is never used by MessagePack); see datatypes.
_MARKER = 0xC1
#: Held frames are written at the latest this long after the first of them was held.
HOLD_LIMIT_SECONDS = 0.001
#: A batch of held frames is written once it has this many frames (so at most 256 KiB with the size
#: below). Measured with small chunks at window 256: 32 frames gave about 1.9x the raw pipe, 64 2.0x,
#: 128 2.2x; 64 keeps batches moderate.
BATCH_FRAMES = 64
#: ``write_held`` holds frames up to this size; larger ones gain little from sharing a system call.
HOLD_MAX_BYTES = 4096
#: How long the flusher keeps polling after the last batch before it waits to be woken.
FLUSHER_LINGER_SECONDS = 0.05
#: The flusher thread: not started yet / polling (it will see a held batch) / waiting to be woken.
_FLUSHER_NONE, _FLUSHER_POLLING, _FLUSHER_IDLE = 0, 1, 2

Buffer = bytes | bytearray | memoryview


class TruncatedFrame(EOFError):
    """The pipe closed in the middle of a frame."""

    def __init__(self, received: int, expected: int | None) -> None:
        what = f"a frame of {expected} bytes" if expected is not None else "a frame header"
        super().__init__(f"the pipe closed in the middle of {what} ({received} bytes received)")
        self.received = received
        self.expected = expected


class FrameParts:
    """A payload made of several buffers written back to back; ``size`` is their total length."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: Sequence[Buffer], size: int) -> None:
        self.parts = parts
        self.size = size

    def __len__(self) -> int:
        return self.size

    def tobytes(self) -> bytes:
        return b"".join(bytes(p) for p in self.parts)


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
            first = os.read(self._fd, _READ_SIZE if self.size - self.pos > _READ_SIZE else self.size - self.pos)
            if not first:
                raise TruncatedFrame(self.pos, self.size)
            self._pending = memoryview(first)
        return int(self._pending[0])

    def read(self, n: int) -> bytes:
        buf = bytearray(n)
        self.readinto(memoryview(buf))
        return bytes(buf)

    def discard(self, n: int) -> None:
        scratch = memoryview(bytearray(min(n, _READ_SIZE)))
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
        fd, max_payload = self._fd, self._max
        buf = b""
        while True:
            data = os.read(fd, _READ_SIZE)
            if not data:
                if buf:
                    expected = _HEADER.unpack_from(buf)[0] if len(buf) >= 4 else None
                    raise TruncatedFrame(len(buf), expected)
                return
            buf = buf + data if buf else data
            pos, size = 0, len(buf)
            while size - pos >= 4:
                (n,) = _HEADER.unpack_from(buf, pos)
                if n > max_payload:
                    raise FrameTooLarge(n, max_payload)
                end = pos + 4 + n
                if end <= size:
                    left = size - end
                    self.buffered = left
                    self.next_ready = left >= 4 and end + 4 + _HEADER.unpack_from(buf, end)[0] <= size
                    yield buf[pos + 4 : end]
                    pos = end
                    continue
                if n > _READ_SIZE:
                    self.buffered = 0
                    self.next_ready = False
                    yield from self._large(memoryview(buf)[pos + 4 :], n)
                    pos = size
                break
            buf = buf[pos:] if pos < size else b""

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


_get_ident = threading.get_ident

#: Held replies are written once this many have gathered, so the host can work on the first ones while
#: the worker runs the rest: the two processes overlap instead of taking turns.
HOLD_BATCH = 8


class FrameWriter:
    """Writes whole frames; safe to call from any thread.

    Small frames can be *held*, to go out together, one system call for a batch instead of one each:

    - ``write_held`` holds one frame, from any thread (stream chunks);
    - the thread that called ``hold`` (the worker's reader, while more requests are already buffered)
      has all its small frames held until ``release``.

    Held frames go out in order, before any frame written after them, when:

    - a frame is written that is not held (it joins the batch's system call when it is small);
    - ``flush`` or ``release`` is called;
    - the batch reaches ``BATCH_FRAMES`` frames (``HOLD_BATCH`` when the holder adds to it: replies
      to calls go out every few, so the host works on them while the worker runs the next calls);
    - ``hold_limit`` seconds have passed since the first of them was held: a flusher thread (started
      with the first held frame) writes the batch then, so a frame never waits behind a producer that
      blocks. It sleeps while nothing is held. A batch the holder started does not wake it (waking it
      for every burst of calls cost the reader more than the batching saved); the holder releases its
      batch as soon as no request is buffered, and the watchdog hands its role over, releasing, when
      one call runs a whole check period."""

    def __init__(self, fd: int, max_payload: int, hold_limit: float = HOLD_LIMIT_SECONDS) -> None:
        self._fd = fd
        self._max = max_payload
        self._hold_max = min(max_payload, HOLD_MAX_BYTES)
        self._hold_limit = hold_limit
        self._lock = threading.Lock()
        self._holder: int | None = None
        #: The holder has held frames since it last released.
        self._holder_held = False
        self._held: list[bytes] = []
        #: Frames up to this size are written from one buffer (header and payload concatenated).
        self._small = min(_READ_SIZE, max_payload)
        #: time.monotonic() when the first frame of the held batch was held.
        self._held_since = 0.0
        #: Batches started so far (the flusher's sign of activity).
        self._batches = 0
        self._flusher = _FLUSHER_NONE
        self._flusher_wake = threading.Event()

    def hold(self) -> None:
        """Keep this thread's small frames until ``release``."""
        self._holder = threading.get_ident()

    def release(self) -> None:
        """Stop holding; when the holder held frames, write the batch."""
        with self._lock:
            self._holder = None
            if self._holder_held:
                self._holder_held = False
                if self._held:
                    self._write_held()

    def flush(self) -> None:
        """Write the frames held so far (from any thread)."""
        with self._lock:
            if self._held:
                self._write_held()

    @property
    def max_payload(self) -> int:
        return self._max

    def write_held(self, payload: Buffer | FrameParts) -> bool:
        """Write a frame, holding it when it is small (see the class). Returns True when it started a
        new batch of held frames."""
        if type(payload) is not bytes or len(payload) > self._hold_max:
            self.write(payload)
            return False
        frame = _pack_header(len(payload)) + payload
        # This runs for every chunk of a stream: the common case takes the lock without `with`
        # (half the cost) and calls nothing that can raise.
        lock = self._lock
        lock.acquire()
        held = self._held
        held.append(frame)
        if 1 < len(held) < BATCH_FRAMES:
            lock.release()
            return False
        try:
            return self._held_one(held)
        finally:
            lock.release()

    def write(self, payload: Buffer | FrameParts) -> None:
        if type(payload) is bytes:
            n = len(payload)
            if n <= self._small:
                # Most frames: small bytes, one header concatenation and one system call (or none,
                # while this thread holds).
                frame = _pack_header(n) + payload
                with self._lock:
                    held = self._held
                    if self._holder == _get_ident():  # never true while nobody holds (idents are not None)
                        self._holder_held = True
                        held.append(frame)
                        if len(held) >= HOLD_BATCH:
                            self._write_held()
                        elif len(held) == 1:
                            # No flusher for the reader's own replies: it releases them once no request
                            # is buffered, or the watchdog hands its role over (one check period).
                            self._held_since = time.monotonic()
                            self._batches += 1
                        return
                    if held:
                        self._held = []
                        held.append(frame)
                        frame = b"".join(held)
                    written = os.write(self._fd, frame)
                    if written < len(frame):
                        self._write_all(memoryview(frame)[written:])
                return
        self._write_large(payload)

    def _write_large(self, payload: Buffer | FrameParts) -> None:
        """A frame with attachments, a large one (written without a concatenation copy), or a small
        one that is not ``bytes``."""
        if isinstance(payload, FrameParts):
            n = payload.size
            if n > self._max:
                raise FrameTooLarge(n, self._max)
            views = [memoryview(_HEADER.pack(n))]
            views += [memoryview(p).cast("B") for p in payload.parts]
        else:
            view = memoryview(payload).cast("B")
            n = view.nbytes
            if n > self._max:
                raise FrameTooLarge(n, self._max)
            views = [memoryview(_HEADER.pack(n)), view]
        with self._lock:
            if self._held:
                self._write_held()
            self._write_parts(views)

    def _held_one(self, held: list[bytes], batch: int = BATCH_FRAMES) -> bool:
        # Caller holds the lock and has just appended to ``held``: start a batch, or write a full one.
        if len(held) == 1:
            self._held_since = time.monotonic()
            self._batches += 1
            if self._flusher != _FLUSHER_POLLING:
                self._wake_flusher()
            return True
        if len(held) >= batch:
            self._write_held()
        return False

    def _write_held(self) -> None:
        # Caller holds the lock.
        held, self._held = self._held, []
        self._write_all(memoryview(b"".join(held)))

    def _wake_flusher(self) -> None:
        # Caller holds the lock.
        if self._flusher == _FLUSHER_NONE:
            threading.Thread(target=self._flush_loop, name="snakepit-flusher", daemon=True).start()
        else:
            self._flusher_wake.set()
        self._flusher = _FLUSHER_POLLING

    def _flush_loop(self) -> None:
        """The flusher: writes a batch once it has been held ``hold_limit`` seconds.

        While batches come, it polls every ``hold_limit`` (or sleeps until the held batch is due),
        without taking the lock, which producers take for every frame: waking it per batch, or letting
        it wait on the lock, costs the producers more than the polling. After ``FLUSHER_LINGER_SECONDS``
        without a new batch it waits until the next one wakes it."""
        limit = self._hold_limit
        wake = self._flusher_wake
        seen = -1
        quiet_since = time.monotonic()
        while True:
            now = time.monotonic()
            if self._held:
                due = self._held_since + limit - now
                if due > 0:
                    time.sleep(due)
                    continue
                with self._lock:
                    if self._held and self._held_since + limit <= time.monotonic():
                        try:
                            self._write_held()
                        except OSError:
                            pass  # the host is gone: the reader sees EOF and the worker ends
                continue
            if self._batches != seen:
                seen = self._batches
                quiet_since = now
            elif now - quiet_since > FLUSHER_LINGER_SECONDS:
                with self._lock:
                    if not self._held and self._batches == seen:
                        self._flusher = _FLUSHER_IDLE
                        wake.clear()
                if self._flusher == _FLUSHER_IDLE:
                    wake.wait()  # set with the next batch
                    quiet_since = time.monotonic()
                continue
            time.sleep(limit)

    def _write_all(self, view: memoryview) -> None:
        fd = self._fd
        while len(view):
            written = os.write(fd, view)
            view = view[written:]

    def _write_parts(self, views: list[memoryview]) -> None:
        fd = self._fd
        views = [v for v in views if v.nbytes]
        first = 0
        while first < len(views):
            written = os.writev(fd, views[first : first + _IOV_MAX])
            while written:
                head = views[first]
                if written >= head.nbytes:
                    written -= head.nbytes
                    first += 1
                else:
                    views[first] = head[written:]
                    written = 0
