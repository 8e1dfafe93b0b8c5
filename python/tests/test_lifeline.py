"""The worker's lifeline: it and everything it started go away when the host does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from harness import FIXTURES, PYTHON_DIR

from snakepit_bridge import lifeline

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the lifeline relies on /proc and prctl")


def running(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X")


def wait_until(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def worker_env(tmp_path: Path, rfd: int, wfd: int, host_pid: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "PYTHONPATH": str(PYTHON_DIR),
            "SNAKEPIT_RFD": str(rfd),
            "SNAKEPIT_WFD": str(wfd),
            "SNAKEPIT_HOST_PID": str(host_pid),
            "GRANDCHILD_FILE": str(tmp_path / "grandchild"),
        }
    )
    env.update(extra)
    return env


def read_grandchild(tmp_path: Path) -> int:
    file = tmp_path / "grandchild"
    assert wait_until(lambda: file.exists() and file.read_text() != ""), "setup did not start its grandchild"
    return int(file.read_text())


def kill_quietly(*pids: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def test_eof_on_the_inbound_pipe_takes_the_process_group_down(tmp_path: Path) -> None:
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakepit_bridge", "--adapter", str(FIXTURES / "grandchild.py")],
        env=worker_env(tmp_path, to_r, from_w, os.getpid()),
        pass_fds=(to_r, from_w),
        start_new_session=True,
    )
    os.close(to_r)
    os.close(from_w)
    grandchild = read_grandchild(tmp_path)
    try:
        assert running(grandchild)
        os.close(to_w)  # EOF without a shutdown message: the host is gone
        assert proc.wait(10) == -signal.SIGKILL, "the worker killed its own group"
        assert wait_until(lambda: not running(grandchild)), "grandchild left behind"
    finally:
        kill_quietly(proc.pid, grandchild)
        os.close(from_r)


def test_the_channel_hanging_up_ends_a_worker_still_in_setup(tmp_path: Path) -> None:
    # No parent-death signal and a parent poll of 10 minutes: as for a worker under bubblewrap, whose
    # parent (the sandbox's init) outlives the host. Only the channel's hang-up can tell.
    adapter = tmp_path / "slow_setup.py"
    adapter.write_text(
        textwrap.dedent(
            """
            import time
            from snakepit_bridge import Adapter, tool

            class Slow(Adapter):
                def setup(self):
                    time.sleep(60)

                @tool
                def ping(self):
                    return "pong"
            """
        )
    )
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    env = worker_env(tmp_path, to_r, from_w, os.getpid(), SNAKEPIT_LIFELINE_PDEATHSIG="0", SNAKEPIT_LIFELINE_POLL="600")
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakepit_bridge", "--adapter", str(adapter)],
        env=env,
        pass_fds=(to_r, from_w),
        start_new_session=True,
    )
    os.close(to_r)
    os.close(from_w)
    try:
        time.sleep(0.5)  # in setup by now, or still importing: neither reads the channel
        assert proc.poll() is None
        os.close(to_w)
        t0 = time.monotonic()
        assert proc.wait(lifeline.HANGUP_GRACE + 8) == -signal.SIGKILL, "the worker took its group down"
        assert time.monotonic() - t0 >= lifeline.HANGUP_GRACE - 0.5, "the reader was given its grace first"
    finally:
        kill_quietly(proc.pid)
        os.close(from_r)


_HANGUP_SCRIPT = """
import os, sys, time
from snakepit_bridge import lifeline
fd = int(sys.argv[1])
lifeline.install(None, poll_seconds=600, channel_fd=fd)
if sys.argv[2] == "ending":
    lifeline.ending()
print("armed", flush=True)
time.sleep(lifeline.HANGUP_GRACE + 1.5)
print("finished", flush=True)
"""


def _armed(code: str, *args: str, **env: str) -> tuple[subprocess.Popen[bytes], int]:
    """Run ``code`` (which reads the channel's descriptor from argv[1] and prints ``armed``) with the
    read end of a pipe as its channel; return the process, once armed, and the write end."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(r), *args],
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR), **env),
        pass_fds=(r,),
        stdout=subprocess.PIPE,
    )
    os.close(r)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"armed\n"
    return proc, w


@pytest.mark.parametrize(("told", "finished"), [("running", False), ("ending", True)])
def test_a_hang_up_after_a_shutdown_request_is_no_tripwire(told: str, finished: bool) -> None:
    proc, w = _armed(_HANGUP_SCRIPT, told, SNAKEPIT_LIFELINE_PDEATHSIG="0")
    try:
        os.close(w)
        out, _ = proc.communicate(timeout=lifeline.HANGUP_GRACE + 10)
        assert (out == b"finished\n") is finished
        assert proc.returncode == 0
    finally:
        kill_quietly(proc.pid)


def test_after_a_shutdown_request_a_dead_host_is_still_noticed() -> None:
    # A forked worker (no parent-death signal) told to shut down, whose teardown outlives its host:
    # the channel's hang-up no longer counts, the host's pid is still polled.
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    code = (
        "import sys, time\n"
        "from snakepit_bridge import lifeline\n"
        f"lifeline.install({host.pid}, poll_seconds=0.1, channel_fd=int(sys.argv[1]))\n"
        "lifeline.ending()\n"
        "print('armed', flush=True)\n"
        "time.sleep(30)\n"
    )
    proc, w = _armed(code, SNAKEPIT_FORKED="1")
    try:
        os.close(w)
        host.kill()
        host.wait(10)
        assert proc.wait(10) == lifeline.HOST_GONE_EXIT
    finally:
        kill_quietly(proc.pid, host.pid)
        assert proc.stdout is not None
        proc.stdout.close()


HOST_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys, time
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    env = dict(os.environ, SNAKEPIT_HOST_PID=str(os.getpid()))
    worker = subprocess.Popen(
        [sys.executable, "-m", "snakepit_bridge", "--adapter", sys.argv[3]],
        env=env, pass_fds=(rfd, wfd), start_new_session=True,
    )
    print(worker.pid, flush=True)
    time.sleep(600)
    """
)


def start_behind_host(tmp_path: Path, **extra: str) -> tuple[subprocess.Popen[bytes], int, int, list[int]]:
    """A host process starts the worker; this test keeps the pipe ends open, so no EOF can arrive."""
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    host = subprocess.Popen(
        [sys.executable, "-c", HOST_SCRIPT, str(to_r), str(from_w), str(FIXTURES / "grandchild.py")],
        env=worker_env(tmp_path, to_r, from_w, 0, **extra),
        pass_fds=(to_r, from_w),
        stdout=subprocess.PIPE,
    )
    assert host.stdout is not None
    worker = int(host.stdout.readline())
    grandchild = read_grandchild(tmp_path)
    return host, worker, grandchild, [to_r, to_w, from_r, from_w]


@pytest.mark.parametrize(
    "mechanism, env",
    [
        ("pdeathsig", {"SNAKEPIT_LIFELINE_POLL": "600"}),
        ("getppid poll", {"SNAKEPIT_LIFELINE_PDEATHSIG": "0", "SNAKEPIT_LIFELINE_POLL": "0.1"}),
    ],
)
def test_host_killed_worker_and_grandchild_go(tmp_path: Path, mechanism: str, env: dict[str, str]) -> None:
    host, worker, grandchild, fds = start_behind_host(tmp_path, **env)
    try:
        assert running(worker) and running(grandchild)
        host.kill()
        host.wait(10)
        assert wait_until(lambda: not running(worker)), f"{mechanism}: worker outlived its host"
        assert wait_until(lambda: not running(grandchild)), f"{mechanism}: grandchild outlived the host"
    finally:
        kill_quietly(host.pid, worker, grandchild)
        assert host.stdout is not None
        host.stdout.close()
        for fd in fds:
            os.close(fd)


def install_and_report(host_pid: int) -> list[str]:
    return [sys.executable, "-c", f"from snakepit_bridge import lifeline; lifeline.install({host_pid}); print('alive')"]


def test_a_host_already_dead_at_start_means_exit_at_once(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    proc = subprocess.Popen(
        install_and_report(gone.pid),
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)),
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == lifeline.HOST_GONE_EXIT
    assert out == b""


def test_a_wrapper_parent_with_a_live_host_keeps_the_worker(tmp_path: Path) -> None:
    # The parent (this test) is not the host, but the host (this test's parent) is alive.
    proc = subprocess.Popen(
        install_and_report(os.getppid()),
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)),
        stdout=subprocess.PIPE,
    )
    out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert out == b"alive\n"


_REPORT_ARMED = """
import ctypes, threading
from snakepit_bridge import lifeline
lifeline.install({host_pid})
sig = ctypes.c_int(-1)
ctypes.CDLL(None, use_errno=True).prctl(2, ctypes.byref(sig), 0, 0, 0)  # PR_GET_PDEATHSIG
print(sig.value, ",".join(sorted(t.name for t in threading.enumerate())))
"""


@pytest.mark.parametrize(
    ("forked", "host_pid", "expected"),
    [
        # Spawned: the parent-death signal and a thread watching the parent.
        ("0", "None", f"{int(signal.SIGHUP)} MainThread,snakepit-lifeline"),
        # Forked by the fork server: the host's pid is polled; the zygote's death must not matter.
        ("1", "os.getppid()", "0 MainThread,snakepit-lifeline"),
        # Forked in a sandbox (no host pid given): the socket's EOF and the pid namespace only.
        ("1", "None", "0 MainThread"),
    ],
)
def test_what_the_lifeline_arms_in_each_mode(forked: str, host_pid: str, expected: str) -> None:
    code = "import os\n" + _REPORT_ARMED.format(host_pid=host_pid)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR), SNAKEPIT_FORKED=forked),
        capture_output=True,
        timeout=10,
        check=True,
    )
    assert proc.stdout.decode().strip() == expected


def test_memory_limit_turns_large_allocations_into_memory_error() -> None:
    code = textwrap.dedent(
        """
        import resource
        from snakepit_bridge import lifeline
        lifeline.set_memory_limit(512 << 20)
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        assert soft == hard == 512 << 20, (soft, hard)
        try:
            b = bytearray(1 << 30)
        except MemoryError:
            print("MemoryError")
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(PYTHON_DIR)),
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert out.stdout == b"MemoryError\n"
