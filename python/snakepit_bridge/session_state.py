"""One session's state on a worker, as tools see it through ``ctx.session``."""

from __future__ import annotations

import threading
import time

from .refs import RefTable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Session:
    """One session's state on this worker, reached by tools as ``ctx.session``."""

    __slots__ = ("id", "state", "refs", "created_at", "last_used", "_active", "_ended", "_ready", "_failed")

    def __init__(self, session_id: str, max_refs: int) -> None:
        self.id = session_id
        #: Anything the session's tools want to keep between calls.
        self.state: dict[str, Any] = {}
        self.refs = RefTable(session_id, max_refs)
        self.created_at = time.monotonic()
        self.last_used = self.created_at
        self._active = 0
        self._ended = False
        self._ready = threading.Event()
        self._failed = False

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, keys={sorted(map(str, self.state))!r}, refs={len(self.refs)})"
