"""The fork server ("zygote"): ``python -m snakepit_bridge.zygote --adapter SPEC``.

The host starts one zygote per pool in fork-server mode. It imports the ``preload`` modules and the
adapter once, starts no threads, and forks a worker on each request from the host. A forked worker
then runs the normal worker main over the connect-back socket, so it starts in milliseconds and
shares the zygote's memory copy-on-write.

Control channel (fd 3 host to zygote, fd 4 zygote to host): frames of a 4-byte big-endian length
and a JSON object. Host to zygote: ``{"op": "fork", "id": N, "env": {...}}`` and
``{"op": "stop"}``. Zygote to host: ``ready``, ``fatal`` (preload, import, setup or threads, with
the traceback), ``forked`` (worker id and pid), ``fork_failed``, ``out`` (a forwarded piece of a
worker's stdout or stderr) and ``exit`` (a worker's exit status, after its output).

Promises:

- The zygote is the parent of every worker, so it reaps them (SIGCHLD, ``waitpid``) and reports
  each exit with its code or signal; the host is not the parent and could not.
- No threads: forking a process with threads copies only the forking thread, and a lock another
  thread held stays locked forever in the child. The zygote checks ``threading.active_count()`` and
  the kernel's count of its tasks after each preloaded import and before each fork; a module that
  started threads is named in a ``fatal`` (or ``fork_failed``) message. BLAS libraries start their
  thread pools at import unless told otherwise, so ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS`` and
  ``MKL_NUM_THREADS`` default to 1 here, and Arrow's jemalloc (loaded by pandas when pyarrow is
  installed) gets ``JE_ARROW_MALLOC_CONF=background_thread:false`` (the host sets them unless the user
  did).
- Lifeline of the zygote (its parent is the host): EOF on fd 3 without ``stop``, ``PR_SET_PDEATHSIG``
  (SIGHUP) and ``getppid()`` polled in the select loop. When the host is gone the zygote SIGKILLs
  each worker's process group, then its own.
- Lifeline of a forked worker (its parent is the zygote, not the host): ``PR_SET_PDEATHSIG`` would
  fire when the *zygote* dies, which must not take running workers down, so a forked worker does not
  arm it and does not watch its parent. Its tripwires are EOF on the connect-back socket (the kernel
  closes the host's end however the host dies) and a thread polling the host's pid
  (``SNAKEPIT_FORKED=1`` selects that mode in lifeline.py).
- In a sandbox (the host starts the zygote under bubblewrap) the zygote is the sandbox's main process
  in a pid namespace of its own: the pids it reports are that namespace's (the host maps them to its
  own), the host's pid is not visible (a forked worker there does not poll it; the host does not pass
  it), and when the zygote dies the kernel kills every worker it forked with the namespace.
"""

from __future__ import annotations

import codecs
import gc
import importlib
import os
import select
import signal
import struct
import sys
import time
from types import FrameType

from . import lifeline
from . import protocol as P
from .handshake import decode_plain, encode_plain
from .threads import thread_problem

_HEADER = struct.Struct(">I")
_MAX_CONTROL_FRAME = 16 * 1024 * 1024

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _format_exc() -> str:
    import traceback  # only when something failed: the zygote starts faster without it

    return traceback.format_exc()


class _Child:
    __slots__ = ("pid", "worker_id", "fds", "decoders")

    def __init__(self, pid: int, worker_id: int, out_fd: int, err_fd: int) -> None:
        self.pid = pid
        self.worker_id = worker_id
        self.fds = {out_fd: 1, err_fd: 2}
        self.decoders = {
            1: codecs.getincrementaldecoder("utf-8")(errors="replace"),
            2: codecs.getincrementaldecoder("utf-8")(errors="replace"),
        }


class Zygote:
    def __init__(self, rfd: int, wfd: int, adapter: str, preload: list[str], setup_in_zygote: bool) -> None:
        self.rfd = rfd
        self.wfd = wfd
        self.adapter = adapter
        self.preload = preload
        self.setup_in_zygote = setup_in_zygote
        self.children: dict[int, _Child] = {}
        self.by_fd: dict[int, _Child] = {}
        self.loaded: tuple[object, dict[str, Any]] | None = None
        self.inbuf = b""
        self.parent = os.getppid()
        self.wake_r, self.wake_w = os.pipe()

    # ------------------------------------------------------------ the channel

    def send(self, message: dict[str, Any]) -> None:
        data = encode_plain(message)
        buf = _HEADER.pack(len(data)) + data
        view = memoryview(buf)
        while view:
            try:
                n = os.write(self.wfd, view)
            except BlockingIOError:
                select.select([], [self.wfd], [], 1.0)
                continue
            except BrokenPipeError:
                self.host_gone()
            view = view[n:]

    def read_requests(self) -> list[dict[str, Any]] | None:
        """Requests complete in the channel now; None at EOF."""
        try:
            data = os.read(self.rfd, 65536)
        except BlockingIOError:
            return []
        if not data:
            return None
        self.inbuf += data
        out: list[dict[str, Any]] = []
        while len(self.inbuf) >= 4:
            (n,) = _HEADER.unpack_from(self.inbuf)
            if n > _MAX_CONTROL_FRAME:
                raise ValueError(f"control frame of {n} bytes")
            if len(self.inbuf) < 4 + n:
                break
            out.append(decode_plain(self.inbuf[4 : 4 + n]))
            self.inbuf = self.inbuf[4 + n :]
        return out

    # ------------------------------------------------------------- lifeline

    def host_gone(self) -> None:
        """The host is gone: every worker's process group goes, then the zygote's own."""
        for pid in list(self.children):
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        lifeline.host_gone()

    def _on_hangup(self, _signum: int, _frame: FrameType | None) -> None:
        self.host_gone()

    def arm_lifeline(self) -> None:
        if os.environ.get(P.ENV_LIFELINE_PDEATHSIG, P.DEFAULT_LIFELINE_PDEATHSIG) != "0":
            signal.signal(signal.SIGHUP, self._on_hangup)
            lifeline._set_pdeathsig(signal.SIGHUP)
        if os.getppid() != self.parent:
            self.host_gone()

    # ---------------------------------------------------------------- start

    def fatal(self, phase: str, message: str, tb: str = "", module: str | None = None) -> None:
        self.send({"ev": "fatal", "phase": phase, "message": message, "traceback": tb, "module": module})
        sys.stderr.write(tb or message + "\n")
        sys.stderr.flush()
        os._exit(1)

    def load(self) -> None:
        started = time.perf_counter()
        # No collection while loading: what the imports leave is shared with every worker, and a
        # collection here would only leave holes in pages the workers then copy (gc.freeze below).
        gc.disable()
        for name in self.preload:
            try:
                importlib.import_module(name)
            except BaseException as exc:  # noqa: BLE001 - reported with its traceback
                self.fatal("preload", f"cannot preload {name!r}: {type(exc).__name__}: {exc}", _format_exc(), name)
            problem = thread_problem(f"preloading {name!r}")
            if problem is not None:
                self.fatal("threads", problem, module=name)
        from .adapter import load_adapter

        try:
            self.loaded = load_adapter(self.adapter)
        except BaseException as exc:  # noqa: BLE001
            self.fatal("import", f"cannot load adapter {self.adapter!r}: {type(exc).__name__}: {exc}", _format_exc())
        problem = thread_problem(f"importing the adapter {self.adapter!r}")
        if problem is not None:
            self.fatal("threads", problem, module=self.adapter)
        if self.setup_in_zygote:
            try:
                _run_setup(self.loaded[0] if self.loaded else None)
            except BaseException as exc:  # noqa: BLE001
                self.fatal("setup", f"setup() of the adapter failed: {type(exc).__name__}: {exc}", _format_exc())
            problem = thread_problem("the adapter's setup() (setupInZygote)")
            if problem is not None:
                self.fatal("threads", problem, module=self.adapter)
        # What every worker imports after the fork, imported once here instead.
        import _socket  # noqa: F401 - the workers' connect-back transport (transport.py imports it lazily)

        from . import __main__ as _worker_main  # noqa: F401
        from .codecs import choose_codec

        try:
            choose_codec((os.environ.get(P.ENV_CODECS) or P.DEFAULT_CODECS).split(","))
        except ValueError:
            pass
        # Objects that exist now never move between GC generations again: the collector in a worker
        # does not write to their pages, so they stay shared. Imports leave little cyclic garbage
        # (under a thousand objects, pandas included), not worth a pass over the whole heap (2 ms for
        # a plain adapter, 40 ms with pandas); a setup() in the zygote may leave more, so it gets one.
        if self.setup_in_zygote:
            gc.collect()
        gc.freeze()
        self.send(
            {
                "ev": "ready",
                "pid": os.getpid(),
                "python": "{}.{}.{}".format(*sys.version_info[:3]),
                "preloaded": self.preload,
                "loadMs": round((time.perf_counter() - started) * 1000, 1),
            }
        )

    # ---------------------------------------------------------------- serve

    def serve(self) -> None:
        os.set_blocking(self.rfd, False)
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda _s, _f: None)
        poll = float(os.environ.get(P.ENV_LIFELINE_POLL) or P.DEFAULT_LIFELINE_POLL)
        while True:
            fds = [self.rfd, self.wake_r, *self.by_fd]
            try:
                ready, _, _ = select.select(fds, [], [], poll)
            except InterruptedError:
                ready = []
            if os.getppid() != self.parent:
                self.host_gone()
            for fd in ready:
                if fd == self.rfd:
                    requests = self.read_requests()
                    if requests is None:
                        self.host_gone()  # EOF without stop: the host died
                        return
                    for req in requests:
                        self.handle(req)
                elif fd == self.wake_r:
                    try:
                        while os.read(self.wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif fd in self.by_fd:
                    self.forward(fd)
            self.reap()

    def handle(self, req: dict[str, Any]) -> None:
        op = req.get("op")
        if op == "stop":
            os._exit(0)
        if op == "fork":
            self.fork(int(req["id"]), dict(req.get("env") or {}))

    def forward(self, fd: int, final: bool = False) -> None:
        child = self.by_fd.get(fd)
        if child is None:
            return
        stream = child.fds[fd]
        while True:
            try:
                data = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                data = None
            except OSError:
                data = b""
            if data:
                text = child.decoders[stream].decode(data)
                if text:
                    self.send({"ev": "out", "pid": child.pid, "s": stream, "d": text})
                if not final:
                    return
                continue
            if data == b"" or final:
                # EOF (or the worker exited): stop watching this pipe.
                del self.by_fd[fd]
                del child.fds[fd]
                os.close(fd)
            return

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is None:
                continue
            for fd in list(child.fds):
                self.forward(fd, final=True)
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
            sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
            self.send({"ev": "exit", "pid": pid, "id": child.worker_id, "code": code, "signal": sig})

    def fork(self, worker_id: int, env: dict[str, str]) -> None:
        problem = thread_problem("something in the zygote")
        if problem is not None:
            self.send({"ev": "fork_failed", "id": worker_id, "message": problem})
            return
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in (out_r, out_w, err_r, err_w):
                os.close(fd)
            self.send({"ev": "fork_failed", "id": worker_id, "message": f"fork failed: {exc}"})
            return
        if pid == 0:
            try:
                self.become_worker(env, out_w, err_w)
            except BaseException:  # noqa: BLE001 - a child must never return into the zygote's loop
                import traceback

                traceback.print_exc()
            finally:
                os._exit(1)
        os.close(out_w)
        os.close(err_w)
        os.set_blocking(out_r, False)
        os.set_blocking(err_r, False)
        child = _Child(pid, worker_id, out_r, err_r)
        self.children[pid] = child
        self.by_fd[out_r] = child
        self.by_fd[err_r] = child
        self.send({"ev": "forked", "id": worker_id, "pid": pid})

    # --------------------------------------------------------- in the child

    def become_worker(self, env: dict[str, str], out_w: int, err_w: int) -> None:
        os.setsid()  # leads its own process group (and session), as a spawned worker does
        gc.enable()  # off in the zygote (load); the frozen objects stay out of the worker's collections
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGCHLD, signal.SIGHUP, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        # The zygote reads these pipes; should it die, output is dropped rather than raising in tools.
        sys.stdout = _DropOnBrokenPipe(sys.stdout)
        sys.stderr = _DropOnBrokenPipe(sys.stderr)
        for fd in (out_w, err_w, self.rfd, self.wfd, self.wake_r, self.wake_w, *self.by_fd):
            try:
                os.close(fd)
            except OSError:
                pass
        for key in (P.ENV_ZYGOTE_RFD, P.ENV_ZYGOTE_WFD, P.ENV_ZYGOTE_PRELOAD, P.ENV_ZYGOTE_SETUP):
            os.environ.pop(key, None)
        os.environ.update(env)
        os.environ[P.ENV_FORKED] = "1"
        if "numpy" in sys.modules:  # the legacy global generator is not reseeded at fork (random is)
            try:
                sys.modules["numpy"].random.seed()
            except Exception:  # noqa: BLE001
                pass
        from . import __main__ as worker_main

        target, tools = self.loaded if self.loaded is not None else (None, None)
        preloaded = (target, tools, self.setup_in_zygote) if target is not None else None
        # The worker main opens the connect-back socket (transport.open_channel) with the
        # SNAKEPIT_CONNECT and SNAKEPIT_TOKEN the host sent for this worker.
        worker_main.main(["--adapter", self.adapter], preloaded=preloaded)


class _DropOnBrokenPipe:
    """A text stream whose writes are dropped once its pipe has no reader (the zygote died)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return int(self._stream.write(text))
        except BrokenPipeError:
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _run_setup(target: object) -> None:
    hook = getattr(target, "setup", None)
    if hook is None or not callable(hook):
        return
    result = hook()
    if hasattr(result, "__await__"):
        import asyncio

        async def wait() -> None:
            await result

        asyncio.run(wait())


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "--adapter":
        sys.stderr.write(f"usage: python -m snakepit_bridge.zygote --adapter SPEC (got {args!r})\n")
        raise SystemExit(2)
    preload = [m for m in (os.environ.get(P.ENV_ZYGOTE_PRELOAD) or P.DEFAULT_ZYGOTE_PRELOAD).split(",") if m]
    zygote = Zygote(
        int(os.environ.get(P.ENV_ZYGOTE_RFD) or P.DEFAULT_ZYGOTE_RFD),
        int(os.environ.get(P.ENV_ZYGOTE_WFD) or P.DEFAULT_ZYGOTE_WFD),
        args[1],
        preload,
        (os.environ.get(P.ENV_ZYGOTE_SETUP) or P.DEFAULT_ZYGOTE_SETUP) == "1",
    )
    zygote.arm_lifeline()
    zygote.load()
    zygote.serve()


if __name__ == "__main__":
    main()
