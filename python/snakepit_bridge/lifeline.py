"""The worker never outlives its host.

Three independent tripwires, any one of which is enough:

- EOF on the inbound pipe (the kernel closes it when the host dies, even by SIGKILL) ends the main
  loop; the worker then calls :func:`host_gone` (exit status 0 when it does not lead a group: the
  input simply ended).
- On Linux, ``PR_SET_PDEATHSIG`` makes the kernel send SIGHUP when the parent dies; the handler calls
  :func:`host_gone`. The parent is re-checked right after arming, in case it died before.
- A watcher thread polls ``getppid()`` (or, when the worker was started through a wrapper that did
  not ``exec``, the host pid itself) and calls :func:`host_gone`.

:func:`host_gone` kills the worker's whole process group with SIGKILL when the worker leads it (the
host spawns it that way), so processes the adapter started go too, then exits.

A worker forked by the fork server (``SNAKEPIT_FORKED=1``) is the zygote's child, not the host's: it
polls the host's pid instead of its parent. Forked in a sandbox (no ``SNAKEPIT_HOST_PID``: the host's
pid is not visible from the sandbox's pid namespace), it relies on the socket's EOF and on the pid
namespace, whose every process the kernel kills when the zygote (the sandbox's main process) dies.

Environment: ``SNAKEPIT_HOST_PID`` (the host's pid), ``SNAKEPIT_LIFELINE_POLL`` (seconds between
polls, default 0.5), ``SNAKEPIT_LIFELINE_PDEATHSIG=0`` to leave PR_SET_PDEATHSIG unset (tests).
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time

from . import protocol as P

TYPE_CHECKING = False
if TYPE_CHECKING:
    import signal
    from collections.abc import Callable
    from types import FrameType
else:
    # The C module under signal, whose IntEnum wrappers import enum, which a worker does not need.
    import _signal as signal

_PR_SET_PDEATHSIG = 1
#: Exit status of a worker whose host went away.
HOST_GONE_EXIT = 70


def host_gone(exit_code: int = HOST_GONE_EXIT) -> None:
    """The host is gone: take the worker's process group down (when it leads one, as it does when the
    host started it; the worker dies with it, by SIGKILL), or else exit at once with ``exit_code``."""
    try:
        if os.getpgid(0) == os.getpid():
            os.killpg(os.getpid(), signal.SIGKILL)
    except OSError:
        pass
    os._exit(exit_code)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _set_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        return _prctl()(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0
    except (OSError, AttributeError, ImportError, TypeError):
        return False


def _prctl() -> Callable[..., int]:
    """``prctl`` of the C library, called through ``_ctypes``, the extension module under ``ctypes``:
    importing ``ctypes`` itself runs about 1 ms of Python (its many C type classes) at every worker
    start, for one call with five integer arguments. The two classes below are what ``ctypes``
    defines for it (``c_int`` and a C function type that keeps ``errno``); the platform's dynamic
    linker finds ``prctl`` in the process (the interpreter links the C library)."""
    try:
        import _ctypes

        class CInt(_ctypes._SimpleCData):  # type: ignore[type-arg]
            _type_ = "i"

        class CFunction(_ctypes.CFuncPtr):
            _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
            _restype_ = CInt

        function: Callable[..., int] = CFunction(_ctypes.dlsym(_ctypes.dlopen(None), "prctl"))  # type: ignore[arg-type]
        return function
    except (ImportError, AttributeError, OSError, TypeError):
        import ctypes  # not ctypes.util: finding libc by name imports subprocess, tempfile and more

        try:
            return ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            return ctypes.CDLL("libc.so.6", use_errno=True).prctl


def _on_hangup(_signum: int, _frame: FrameType | None) -> None:
    host_gone()


def install(host_pid: int | None, poll_seconds: float | None = None, channel_fd: int | None = None) -> None:
    """Arm the lifeline from the main thread, before the adapter is loaded.

    ``host_pid`` is the host's pid as the host saw it. When this process is the host's direct child,
    the parent is watched; when it was started through a wrapper (the parent is not the host but the
    host is alive), the host pid is watched instead. A host already dead means leave at once.
    ``channel_fd`` is the descriptor the host's frames arrive on: its hang-up is watched too."""
    if poll_seconds is None:
        poll_seconds = float(os.environ.get(P.ENV_LIFELINE_POLL) or P.DEFAULT_LIFELINE_POLL)
    if os.environ.get(P.ENV_FORKED, P.DEFAULT_FORKED) == "1":
        if host_pid is None:
            # Forked by a sandboxed fork server: the host's pid is not visible from the sandbox's pid
            # namespace (the host does not pass it). The connect-back socket's hang-up, and the
            # namespace dying with the zygote (its main process), which goes with the host.
            _start_watch(channel_fd, poll_seconds, None)
            return

        # Forked by the fork server (zygote.py): the parent is the zygote, whose death must not take
        # this worker down. No parent-death signal, no parent watch: the host's pid is polled (and
        # the connect-back socket's hang-up).
        if not _alive(host_pid):
            host_gone()
        _start_watch(channel_fd, poll_seconds, lambda: not _alive(host_pid))
        return
    _lead_group_in_sandbox()
    parent = os.getppid()
    direct = host_pid is None or parent == host_pid
    if not direct and host_pid is not None and not _alive(host_pid):
        host_gone()

    if os.environ.get(P.ENV_LIFELINE_PDEATHSIG, P.DEFAULT_LIFELINE_PDEATHSIG) != "0":
        signal.signal(signal.SIGHUP, _on_hangup)
        _set_pdeathsig(signal.SIGHUP)
        # Re-check after arming: the parent may have died before prctl took effect.
        if os.getppid() != parent:
            host_gone()

    _start_watch(
        channel_fd,
        poll_seconds,
        lambda: os.getppid() != parent or (not direct and host_pid is not None and not _alive(host_pid)),
    )


#: The inode of the initial pid namespace's /proc/self/ns/pid (PROC_PID_INIT_INO, fixed by Linux).
_INITIAL_PID_NAMESPACE = 0xEFFFFFFC


def _lead_group_in_sandbox() -> None:
    """Under bubblewrap (a pid namespace of the worker's own, whose init, bwrap, is its parent), lead a
    process group, as a worker the host spawns directly does: :func:`host_gone` then takes what the
    adapter started down with it. The host's signals still reach the worker through bwrap, whose
    group they go to: bwrap's death ends the namespace. Nowhere else does the worker change its group
    (a worker started through a wrapper stays in the group the host signals)."""
    try:
        if os.getpgid(0) == os.getpid() or os.getppid() != 1:
            return
        if os.stat("/proc/self/ns/pid").st_ino == _INITIAL_PID_NAMESPACE:
            return
        with open("/proc/1/comm", encoding="ascii", errors="replace") as comm:
            if comm.read().strip() != "bwrap":
                return
        os.setpgid(0, 0)
    except OSError:
        pass


#: The host asked this worker to shut down (``ending``): its channel closing is expected from then on.
_ending = False
#: How long a hung-up channel is left to the reader, whose EOF ends the worker in order (seconds).
HANGUP_GRACE = 2.0


def ending() -> None:
    """The host asked this worker to shut down: from now on the channel's hang-up is no tripwire
    (the worker runs its teardown and leaves by itself)."""
    global _ending
    _ending = True


def _start_watch(channel_fd: int | None, poll_seconds: float, host_lost: Callable[[], bool] | None) -> None:
    """A daemon thread that calls :func:`host_gone` when ``host_lost()`` says so (checked every
    ``poll_seconds``) or when the host's end of the channel is gone.

    The channel hangs up (POLLHUP: every writer of a pipe closed, the peer of a socket released) when
    the host dies, whatever pid namespace this worker sees, and before the worker reads anything: in
    the middle of an adapter's import or ``setup()``, or when the parent-death signal was armed too
    late (bubblewrap arms its own only once it runs, and a sandboxed worker's parent is the sandbox's
    init, which outlives the host). Unread frames may still be queued before the end (a shutdown,
    say): the reader is given :data:`HANGUP_GRACE` to reach the end of the input itself, which ends
    the worker in order; a worker told to shut down is left to finish."""
    if channel_fd is None and host_lost is None:
        return

    def watch() -> None:
        poller = select.poll()
        watching = channel_fd is not None
        if channel_fd is not None:
            poller.register(channel_fd, 0)  # hang-up and errors only: nothing is read here
        hung_up_at: float | None = None
        while True:
            ready = poller.poll(int(poll_seconds * 1000) if hung_up_at is None else 50)
            if host_lost is not None and host_lost():
                host_gone()
            if _ending:
                # Told to shut down: the channel may close now, but a host that dies while the
                # worker tears down is still noticed by the other tripwires.
                if host_lost is None:
                    return
                if watching and channel_fd is not None:
                    poller.unregister(channel_fd)
                    watching, hung_up_at = False, None
                continue
            now = time.monotonic()
            if ready and hung_up_at is None:
                hung_up_at = now
            if hung_up_at is not None:
                if now - hung_up_at >= HANGUP_GRACE:
                    host_gone(0)
                time.sleep(0.05)  # the descriptor stays hung up: poll() would not wait

    threading.Thread(target=watch, name="snakepit-lifeline", daemon=True).start()


def set_memory_limit(limit: int) -> None:
    """Cap the process's address space (RLIMIT_AS) at ``limit`` bytes; allocations past it raise
    MemoryError. The hard limit is lowered too, so the adapter cannot lift it."""
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    new_hard = limit if hard == resource.RLIM_INFINITY or hard > limit else hard
    resource.setrlimit(resource.RLIMIT_AS, (min(limit, new_hard), new_hard))
