"""Threads of this process, as the fork server checks them: forking a process that runs threads is
unsafe (the child has only the forking thread, and a lock another thread held stays locked in it
forever), so the zygote counts the kernel's tasks after each preloaded import and before each fork,
and names the threads it finds, Python's by their names and C extensions' by the kernel's (``comm``)."""

from __future__ import annotations

import os
import threading


def task_count() -> int:
    """Threads of this process as the kernel sees them (C extensions' threads included)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def task_names() -> list[str]:
    """The kernel's names (``comm``) of this process's threads other than the main one: a thread a C
    extension started shows here (Arrow's jemalloc, for one, names its thread ``jemalloc_bg_thd``)."""
    me = os.getpid()
    names: list[str] = []
    try:
        tids = sorted(int(t) for t in os.listdir("/proc/self/task"))
    except OSError:
        return names
    for tid in tids:
        if tid == me:
            continue
        try:
            with open(f"/proc/self/task/{tid}/comm") as f:
                names.append(f.read().strip())
        except OSError:
            pass  # the thread ended meanwhile
    return names


def thread_problem(after: str) -> str | None:
    """A message naming the threads running now, or None when this process has only one."""
    py = threading.active_count()
    tasks = task_count()
    if py <= 1 and tasks <= 1:
        return None
    names = ", ".join(t.name for t in threading.enumerate() if t is not threading.main_thread()) or "none"
    kernel = ", ".join(task_names()) or "none"
    return (
        f"the fork server cannot fork safely: {after} started threads ({tasks} kernel tasks, "
        f"{py} Python threads; Python threads besides the main one: {names}; kernel threads besides "
        f"the main one: {kernel}). A forked worker would inherit locks those threads hold and no thread "
        "to release them. Remove that module from options.preload, make it start its threads lazily "
        "(for BLAS libraries: OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1), or use startMethod 'spawn'."
    )
