"""Writing frames to a pipe (the format and the reader are in ``frame_reader``), from any thread: a
frame from one buffer, or from several parts (``FrameParts``: the message, then large binary values
as attachments) without copying them; small frames *held* to go out together, one system call for a
batch, with a flusher thread that bounds how long a held frame waits. A length above the maximum is
refused before anything is written."""

from __future__ import annotations

import os
import threading
import time

from .errors import FrameTooLarge
from .frame_reader import HEADER, READ_SIZE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

_pack_header = HEADER.pack
_get_ident = threading.get_ident
_IOV_MAX = 512
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
#: Held replies are written once this many have gathered, so the host can work on the first ones while
#: the worker runs the rest: the two processes overlap instead of taking turns.
HOLD_BATCH = 8

Buffer = bytes | bytearray | memoryview


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
        self._small = min(READ_SIZE, max_payload)
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
                # Every reply comes here: the lock is taken without `with` (half the cost), and the
                # try/finally is what `with` would have done.
                lock = self._lock
                lock.acquire()
                try:
                    held = self._held
                    holder = self._holder
                    if holder is not None and holder == _get_ident():
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
                finally:
                    lock.release()
                return
        self._write_large(payload)

    def _write_large(self, payload: Buffer | FrameParts) -> None:
        """A frame with attachments, a large one (written without a concatenation copy), or a small
        one that is not ``bytes``."""
        if isinstance(payload, FrameParts):
            n = payload.size
            if n > self._max:
                raise FrameTooLarge(n, self._max)
            views = [memoryview(HEADER.pack(n))]
            views += [memoryview(p).cast("B") for p in payload.parts]
        else:
            view = memoryview(payload).cast("B")
            n = view.nbytes
            if n > self._max:
                raise FrameTooLarge(n, self._max)
            views = [memoryview(HEADER.pack(n)), view]
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
