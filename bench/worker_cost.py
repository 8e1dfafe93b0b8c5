"""Instructions a worker process executes per call, counted by valgrind (callgrind), beside the raw
pipe's and python-shell's workers in the same run. A count does not move with the machine's load as a
timing does: on a shared 2-core machine a change of a few per cent in the worker's per-call cost is
lost in the noise of bench/overhead.ts, but shows here, the same from one run to the next.

    python bench/worker_cost.py [--calls 4000] [--bridge DIR ...] [--json FILE]      (needs valgrind)

`--bridge DIR` (repeatable) measures the bridge found in DIR (a folder holding snakepit_bridge, for
example an older commit's python/ from `git archive`) beside this checkout's: an A/B of a change in
the same run.

Contenders, each driven from this process with `add(a=1, b=2)`, one call at a time:
    snakepit      the bridge's worker (snakepit_bridge, as the host starts it) with bench/adapter.py,
                  length-prefixed MessagePack frames on fds 3 and 4 after its JSON hello
    raw pipe      bench/raw_worker.py: the same frames, a bare loop (the physical limit)
    python-shell  bench/peers/pyshell_worker.py: JSON lines on stdin and stdout

Each runs twice, with N and with 2N calls; a call's cost is the difference of the two counts of the
thread that serves the calls (callgrind --separate-threads), divided by N: the start, the exit and
any other thread fall out. Python's own interpreter is counted (the eval loop, msgpack, the system
call wrappers), the kernel is not: the time a system call or a thread switch takes is in
bench/overhead.ts, not here.
"""

from __future__ import annotations

import argparse
import glob
import itertools
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import msgpack

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
PYTHON = os.environ.get("SNAKEPIT_PYTHON") or os.path.join(ROOT, ".venv", "bin", "python")
HEADER = struct.Struct(">I")
_RUNS = itertools.count()
BRIDGE_MAIN = "import sys\nfrom snakepit_bridge.__main__ import main\nmain()"


def _read_exact(fd: int, n: int) -> bytes:
    out = b""
    while len(out) < n:
        chunk = os.read(fd, n - len(out))
        if not chunk:
            raise EOFError("the worker closed its pipe")
        out += chunk
    return out


def _frame(fd: int) -> bytes:
    return _read_exact(fd, HEADER.unpack(_read_exact(fd, 4))[0])


def _framed(kind: str, calls: int, out_prefix: str, bridge: str) -> None:
    """Drive a worker that speaks length-prefixed MessagePack frames on fds 3 (in) and 4 (out)."""
    if kind == "raw pipe":
        argv = [PYTHON, os.path.join(BENCH, "raw_worker.py")]
    else:
        argv = [PYTHON, "-c", BRIDGE_MAIN, "--adapter", os.path.join(BENCH, "adapter.py")]
    # Pipes above fd 4, so that moving them to 3 and 4 in the child never closes one of them.
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(5)]
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    for fd in spare:
        os.close(fd)

    def child_fds() -> None:
        os.dup2(to_r, 3)
        os.dup2(from_w, 4)

    env = dict(os.environ, PYTHONPATH=bridge)
    proc = subprocess.Popen(
        _valgrind(out_prefix) + argv, preexec_fn=child_fds, close_fds=False, env=env, cwd=BENCH, stderr=subprocess.PIPE
    )
    os.close(to_r)
    os.close(from_w)
    try:
        if kind != "raw pipe":
            _frame(from_r)  # the JSON hello
        for i in range(1, calls + 1):
            body = msgpack.packb([1, i, "add", {"a": 1, "b": 2}, None, None, 0])
            os.write(to_w, HEADER.pack(len(body)) + body)
            reply = msgpack.unpackb(_frame(from_r))
            if reply[2] != 3:
                raise RuntimeError(f"{kind}: add(1, 2) answered {reply!r}")
    finally:
        os.close(to_w)
        os.close(from_r)
        _finish(proc, kind)


def _pyshell(calls: int, out_prefix: str) -> None:
    argv = [PYTHON, os.path.join(BENCH, "peers", "pyshell_worker.py")]
    proc = subprocess.Popen(
        _valgrind(out_prefix) + argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=BENCH
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        for i in range(calls):
            proc.stdin.write(json.dumps({"id": i, "fn": "add", "args": {"a": 1, "b": 2}}).encode() + b"\n")
            proc.stdin.flush()
            reply = json.loads(proc.stdout.readline())
            if reply != {"id": i, "value": 3}:
                raise RuntimeError(f"python-shell: add(1, 2) answered {reply!r}")
    finally:
        _finish(proc, "python-shell")  # communicate() closes stdin: the worker's loop ends


def _valgrind(out_prefix: str) -> list[str]:
    return ["valgrind", "--tool=callgrind", "--separate-threads=yes", f"--callgrind-out-file={out_prefix}"]


def _finish(proc: subprocess.Popen[bytes], kind: str) -> None:
    _, err = proc.communicate(timeout=600)
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        raise RuntimeError(f"{kind} exited with {proc.returncode}:\n{tail}")


def _thread_counts(out_prefix: str) -> list[int]:
    """Instructions of each thread, in the order callgrind numbered them."""
    counts = []
    for path in sorted(glob.glob(out_prefix + "-*")):
        with open(path) as f:
            for line in f:
                if line.startswith(("summary:", "totals:")):
                    counts.append(int(line.split()[1]))
                    break
    return counts


def per_call(kind: str, calls: int, scratch: str, bridge: str) -> float:
    """Instructions per call of the thread that serves the calls: (count(2N) - count(N)) / N."""
    runs = []
    for n in (calls, 2 * calls):
        prefix = os.path.join(scratch, f"{next(_RUNS)}-{n}")
        if kind == "python-shell":
            _pyshell(n, prefix)
        else:
            _framed(kind, n, prefix, bridge)
        runs.append(_thread_counts(prefix))
    small, large = runs
    if len(small) != len(large):
        raise RuntimeError(f"{kind}: {len(small)} threads with {calls} calls, {len(large)} with {2 * calls}")
    return max(b - a for a, b in zip(small, large, strict=True)) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--bridge", action="append", default=[], help="also measure the bridge in this folder")
    parser.add_argument("--json", help="write the figures to this file as well")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("worker_cost: valgrind is missing (apt-get install valgrind)")
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="worker-cost-") as scratch:
        here = os.path.join(ROOT, "python")
        contenders = [("snakepit", "snakepit", here)]
        contenders += [(f"snakepit {d}", "snakepit", os.path.abspath(d)) for d in args.bridge]
        contenders += [("raw pipe", "raw pipe", here), ("python-shell", "python-shell", here)]
        for name, kind, bridge in contenders:
            figures[name] = per_call(kind, args.calls, scratch, bridge)
    raw = figures["raw pipe"]
    print(f"instructions per call of the serving thread ({args.calls} and {2 * args.calls} calls)")
    width = max(len(k) for k in figures)
    print(f"{'contender':<{width}} {'per call':>10} {'/ raw pipe':>11}")
    for kind, value in figures.items():
        print(f"{kind:<{width}} {value:>10.0f} {value / raw:>10.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"calls": args.calls, "instructionsPerCall": figures}, f, indent=2)


if __name__ == "__main__":
    main()
