"""Entry point of a worker process: ``python -m snakepit_bridge --adapter SPEC``. The host calls
``main()`` through ``-c`` instead, which skips runpy and what it imports (src/worker/process.ts).

The host passes its settings in the environment (``SNAKEPIT_*``). Until ``hello`` (or ``fatal``) is
sent, frames are JSON; after it, they use the codec named in ``hello``."""

from __future__ import annotations

import os
import sys

from . import lifeline, logs
from . import protocol as P
from .adapter import load_adapter
from .codecs import available_codecs, choose_codec
from .errors import AdapterError, error_payload
from .frame_reader import FrameReader
from .frame_writer import FrameWriter
from .handshake import encode_handshake
from .transport import open_channel
from .worker import Worker, exit_now

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw else default


def _has_numpy() -> bool:
    """Whether ``import numpy`` would find it, without importing it: what ``importlib.util.find_spec``
    does for a top-level name (asking each finder on ``sys.meta_path``), without importing
    importlib.util."""
    if "numpy" in sys.modules:
        return True
    for finder in sys.meta_path:
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is not None and find_spec("numpy", None) is not None:
            return True
    return False


#: What ``platform.python_implementation()`` says (platform is not imported: a worker starts faster).
_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy", "graalpy": "GraalVM", "ironpython": "IronPython"}


def _adapter_argument(args: list[str]) -> str:
    """The value of ``--adapter SPEC`` (or ``--adapter=SPEC``), the only argument; exits with status 2
    and a usage line otherwise."""
    if len(args) == 2 and args[0] == "--adapter" and args[1]:
        return args[1]
    if len(args) == 1 and args[0].startswith("--adapter=") and len(args[0]) > len("--adapter="):
        return args[0][len("--adapter=") :]
    sys.stderr.write(f"usage: python -m snakepit_bridge --adapter SPEC (got {args!r})\n")
    raise SystemExit(2)


def main(argv: list[str] | None = None, preloaded: tuple[object, Any, bool] | None = None) -> None:
    """Run a worker. ``preloaded`` is ``(adapter, tools, setup_done)`` when the adapter was loaded
    before (a worker forked by the fork server, zygote.py)."""
    adapter_spec = _adapter_argument(sys.argv[1:] if argv is None else argv)

    rfd, wfd = open_channel()
    max_payload = _env_int(P.ENV_MAX_PAYLOAD, P.DEFAULT_MAX_PAYLOAD)
    concurrency = max(1, _env_int(P.ENV_CONCURRENCY, P.DEFAULT_CONCURRENCY))
    lifeline.install(_env_int(P.ENV_HOST_PID, P.DEFAULT_HOST_PID) or None, channel_fd=rfd)
    memory_limit = _env_int(P.ENV_MEMORY_LIMIT, P.DEFAULT_MEMORY_LIMIT)

    writer = FrameWriter(wfd, max_payload)
    # Prints and logging records reach the host from here on, those of import and setup() included.
    logs.install(lambda message: writer.write(encode_handshake(message)))

    def fatal(phase: str, exc: BaseException) -> None:
        kind = "python_error"
        payload: dict[str, Any] = error_payload(kind, exc)
        payload["phase"] = phase
        try:
            writer.write(encode_handshake(P.fatal_message(payload)))
        except OSError:
            pass
        sys.stderr.write(payload["traceback"])
        sys.stdout.flush()
        sys.stderr.flush()
        exit_now(1)

    if memory_limit > 0:
        try:
            lifeline.set_memory_limit(memory_limit)
        except (ValueError, OSError) as exc:
            fatal("setup", exc)
            return

    try:
        preferred = (os.environ.get(P.ENV_CODECS) or P.DEFAULT_CODECS).split(",")
        codec = choose_codec(preferred)
    except ValueError as exc:
        fatal("codec", exc)
        return
    try:
        target, tools = (preloaded[0], preloaded[1]) if preloaded is not None else load_adapter(adapter_spec)
    except AdapterError as exc:
        fatal("import", exc)
        return
    except BaseException as exc:  # noqa: BLE001 - any import failure is reported with its traceback
        fatal("import", exc)
        return

    worker = Worker(target, tools, codec, FrameReader(rfd, max_payload), writer)
    try:
        if preloaded is None or not preloaded[2]:
            worker.run_hook("setup")
    except BaseException as exc:  # noqa: BLE001
        fatal("setup", exc)
        return

    info = {
        "protocol": P.VERSION,
        "pid": os.getpid(),
        "python": "{}.{}.{}".format(*sys.version_info[:3]),
        "implementation": _IMPLEMENTATIONS.get(sys.implementation.name, sys.implementation.name),
        "codec": codec.name,
        "codecs": available_codecs(),
        "numpy": _has_numpy(),
        "adapter": adapter_spec,
        "concurrency": concurrency,
        "tools": [spec.describe() for spec in tools.values()],
    }
    logs.after_hello(lambda: writer.write(encode_handshake(P.hello_message(info))), worker.send, writer.flush)

    code = 0
    try:
        worker.serve()
    except BaseException as exc:  # noqa: BLE001 - protocol failure: say so on stderr and leave
        sys.stderr.write(f"snakepit worker: {type(exc).__name__}: {exc}\n")
        code = 3
    if code == 0 and not worker.shutdown_requested:
        # EOF without a shutdown message: the host is gone. Take the process group down now.
        lifeline.host_gone(0)
    worker.end_sessions()
    try:
        worker.run_hook("teardown")
    except BaseException as exc:  # noqa: BLE001
        sys.stderr.write(f"snakepit worker: teardown raised {type(exc).__name__}: {exc}\n")
    sys.stdout.flush()
    sys.stderr.flush()
    exit_now(code)


if __name__ == "__main__":
    main()
