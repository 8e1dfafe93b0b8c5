"""The worker never outlives its host: EOF on the inbound pipe ends the main loop, a watcher thread
polls ``getppid()``, and on Linux the kernel sends SIGKILL when the parent dies (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1


def _set_pdeathsig() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def install(parent_pid: int | None, poll_seconds: float = 1.0) -> None:
    """Arm the lifeline. ``parent_pid`` is the host's pid as the host saw it; when the parent has
    already changed (the host died while this process started), leave at once."""
    expected = parent_pid if parent_pid else os.getppid()
    _set_pdeathsig()
    # Re-check after arming: the parent may have died before prctl took effect.
    if os.getppid() != expected:
        os._exit(70)

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != expected:
                os._exit(70)

    threading.Thread(target=watch, name="snakepit-lifeline", daemon=True).start()
