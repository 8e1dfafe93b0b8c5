"""The reader-role thread scheduler and its watchdog (see worker.py for the threading model).

One thread at a time holds the reader role: it reads and dispatches frames and runs short sync calls
inline. The watchdog moves the role to another thread when a call holds it past one check period;
calls read while a tool waits go to pooled threads."""

from __future__ import annotations

import itertools
import threading
import time

from .calls import STOP

TYPE_CHECKING = False
if TYPE_CHECKING:
    import collections
    from collections.abc import Callable, Iterator
    from typing import Any

    from .adapter import ToolSpec
    from .calls import CallState
    from .codecs import Codec
    from .frame_reader import AttachedFrame, FrameReader
    from .frame_writer import FrameWriter

#: How often the watchdog checks whether a sync call has held the reader role too long.
INLINE_CHECK_SECONDS = 0.005
#: How long the watchdog keeps checking after the last inline call before it sleeps until woken.
WATCH_LINGER_SECONDS = 0.5


class ReaderScheduler:
    """Mixin of ``Worker``: who reads the pipe, and which thread runs a sync call."""

    if TYPE_CHECKING:
        _reader: FrameReader
        _writer: FrameWriter
        _codec: Codec
        _frames: Iterator[bytes | memoryview | AttachedFrame]
        _lock: threading.Lock
        _wake: threading.Condition
        _reader_ident: int | None
        #: What runs on the reader thread: a call, or the tool of a plain call (``_read_loop``).
        _inline: CallState | ToolSpec | None
        _inline_owner: int | None
        _inline_seq: int
        _watch_sleeping: bool
        _jobs: collections.deque[CallState]
        _idle: int
        _done: threading.Event
        _failure: BaseException | None

        def _dispatch(self, frame: bytes | memoryview | AttachedFrame) -> CallState | None: ...

        def _dispatch_message(self, msg: Any) -> CallState | None: ...

        def _answer_handshake_ping(self, frame: bytes | memoryview | AttachedFrame) -> bool: ...

        def _plain_call(self, msg: Any) -> ToolSpec | None: ...

        def _plain_state(self, spec: ToolSpec, msg: list[Any]) -> CallState: ...

        def _call_sync(self, call_id: int, spec: ToolSpec, kwargs: dict[str, Any]) -> None: ...

        def _run_job(self, call: CallState) -> None: ...

        def _finish(self, call: CallState) -> None: ...

    def serve(self) -> None:
        """Serve until the host closes the pipe or asks for shutdown; re-raises a reading failure."""
        # The host's first frame is normally the handshake's ping, waiting already: answered here,
        # before the threads start, so the host hears that the worker is ready as early as it can.
        first = next(self._frames, None)
        if first is None:
            self._finish_serving()  # EOF: the host went away before it said anything
            return
        if not self._answer_handshake_ping(first):
            self._frames = itertools.chain((first,), self._frames)
        self._spawn(self._idle_loop, claim_reader=True)
        # Always: built-in tools are sync even when every adapter tool is async. It sleeps when idle.
        threading.Thread(target=self._watchdog, name="snakepit-watchdog", daemon=True).start()
        self._done.wait()
        if self._failure is not None:
            raise self._failure

    def _spawn(self, target: Callable[[], None], claim_reader: bool = False) -> None:
        if claim_reader:
            self._reader_ident = None  # vacant: the new thread claims it
        threading.Thread(target=target, name="snakepit-worker", daemon=True).start()

    def _read_loop(self) -> None:
        """Read and dispatch frames while this thread holds the reader role."""
        me = threading.get_ident()
        reader, writer, lock = self._reader, self._writer, self._lock
        decode, plain, dispatch = self._codec.decode, self._plain_call, self._dispatch_message
        holding = False
        try:
            for frame in self._frames:
                # While the next request is already buffered, replies are held and written together.
                if reader.next_ready and not holding:
                    writer.hold()
                    holding = True
                msg = decode(frame)
                # Drop the frame before waiting for the next: an idle worker keeps no call's data alive.
                frame = None  # type: ignore[assignment]
                spec = plain(msg)
                if spec is not None and spec.ctx_param is None:
                    # Most calls: a plain call (``Dispatcher._plain_call``) of a tool without a ``ctx``
                    # parameter. Nothing can cancel it or read its state, so it runs here without a
                    # ``CallState``: ``_run_inline`` with ``_mark_inline`` written out, as each call
                    # level costs about 0.1 us on every call.
                    self._inline_owner = me
                    self._inline = spec
                    self._inline_seq += 1
                    if self._watch_sleeping:
                        with lock:
                            self._wake_watchdog()
                    try:
                        self._call_sync(msg[1], spec, msg[3])
                    finally:
                        if self._inline_owner == me:  # unless the role was handed over meanwhile
                            self._inline = self._inline_owner = None
                    ran = True
                else:
                    call = dispatch(msg) if spec is None else self._plain_state(spec, msg)
                    if call is STOP:
                        break
                    ran = call is not None
                    if call is not None:
                        self._run_inline(call, me)
                        call = None
                msg = spec = None
                if ran:
                    lock.acquire()  # not `with`: this runs for every call, and costs half as much
                    moved = self._reader_ident != me
                    lock.release()
                    if moved:
                        writer.release()
                        return  # the role moved on while the call ran
                if holding and not reader.next_ready:
                    writer.release()  # reading the next frame may block: nothing may wait behind it
                    holding = False
        except BaseException as exc:  # noqa: BLE001 - reported by serve() on the main thread
            self._failure = exc
        writer.release()
        self._finish_serving()

    def read_while(self, waiting: Callable[[], bool], timeout: float | None = None) -> bool:
        """Called by a sync tool that waits on the host, or a sync generator that waits for credit.
        When this thread holds the reader role, it reads and dispatches frames itself while
        ``waiting()`` is true (calls that arrive meanwhile go to pooled threads), which saves two
        thread wake-ups per host call or credit; it stops after ``timeout`` seconds without the
        condition clearing. Returns False, having done nothing, when another thread reads: the caller
        then blocks until that thread delivers."""
        me = threading.get_ident()
        with self._lock:
            if self._reader_ident != me:
                return False
            self._writer.release()  # the host call just sent must go out before this thread waits
            inline = self._inline if self._inline_owner == me else None
            # Reading, not running tool code: the watchdog must not move the role.
            self._inline = self._inline_owner = None
        until = None if timeout is None else time.monotonic() + timeout
        try:
            while waiting():
                if until is not None and not self._reader.wait_readable(until - time.monotonic()):
                    break
                frame = next(self._frames, None)
                if frame is None:
                    self._finish_serving()
                    break
                call = self._dispatch(frame)
                if call is STOP:
                    self._finish_serving()
                    break
                if call is not None:
                    self._submit_job(call)
        except BaseException as exc:  # noqa: BLE001 - reported by serve() on the main thread
            self._failure = exc
            self._finish_serving()
        finally:
            with self._lock:
                if inline is not None and self._reader_ident == me:
                    self._inline, self._inline_owner = inline, me
                    self._inline_seq += 1
                    # Tool code runs on the reader again: the watchdog may have gone to sleep meanwhile.
                    self._wake_watchdog()
        return True

    def _submit_job(self, call: CallState) -> None:
        """Run ``call`` on a pooled thread (calls read while a tool or generator waits)."""
        with self._lock:
            self._jobs.append(call)
            if self._idle > 0:
                self._wake.notify_all()
            else:
                self._spawn(self._idle_loop)

    def _finish_serving(self) -> None:
        with self._lock:
            self._reader_ident = -1  # nobody reads any more
            self._wake.notify_all()
        self._done.set()

    def _idle_loop(self) -> None:
        """A pooled thread: takes the vacant reader role, or runs a queued sync call or generator."""
        me = threading.get_ident()
        while True:
            with self._lock:
                self._idle += 1
                while not self._jobs and self._reader_ident is not None and not self._done.is_set():
                    self._wake.wait()
                self._idle -= 1
                if self._done.is_set():
                    return
                job = self._jobs.popleft() if self._jobs else None
                if job is None:
                    self._reader_ident = me
            if job is not None:
                try:
                    self._run_job(job)
                finally:
                    self._finish(job)
                job = None  # the finished call's arguments are not kept alive while this thread idles
            else:
                self._read_loop()

    def _run_inline(self, call: CallState, me: int) -> None:
        self._mark_inline(call, me)
        try:
            self._run_job(call)
        finally:
            self._finish(call)
            if self._inline_owner == me:  # unless the role was handed over meanwhile
                self._inline = self._inline_owner = None

    def _mark_inline(self, job: CallState | ToolSpec, me: int) -> None:
        # Plain attribute writes, no lock: only the reader thread writes these, and the watchdog
        # tolerates a stale read (at worst it moves the reader role once without need).
        self._inline_owner = me
        self._inline = job
        self._inline_seq += 1
        if self._watch_sleeping:
            with self._lock:
                self._wake_watchdog()

    def release_reader(self) -> None:
        """Called by a sync tool about to block (waiting on the host): if it runs on the reader
        thread, give the reader role to another thread at once."""
        me = threading.get_ident()
        with self._lock:
            if self._reader_ident == me:
                self._writer.release()
                self._hand_over_reader()

    def _hand_over_reader(self) -> None:
        # Caller holds the lock. Replies held by the old reader go out now, not after its long call.
        self._writer.release()
        self._reader_ident = None
        self._inline = self._inline_owner = None
        if self._idle > 0:
            self._wake.notify_all()
        else:
            self._spawn(self._idle_loop)

    def _wake_watchdog(self) -> None:
        # Caller holds the lock.
        if self._watch_sleeping:
            self._watch_sleeping = False
            self._wake.notify_all()

    def _watchdog(self) -> None:
        seen = -1
        quiet_since = time.monotonic()
        while not self._done.is_set():
            with self._lock:
                if self._inline is None:
                    if time.monotonic() - quiet_since > WATCH_LINGER_SECONDS:
                        self._watch_sleeping = True
                        while self._watch_sleeping and not self._done.is_set():
                            self._wake.wait()
                        quiet_since = time.monotonic()
                        continue
                else:
                    quiet_since = time.monotonic()
                    if self._inline_seq == seen and self._reader_ident == self._inline_owner:
                        # The same call has held the reader role for a whole period: move the role.
                        self._hand_over_reader()
                seen = self._inline_seq
            time.sleep(INLINE_CHECK_SECONDS)
