"""The worker's end of the byte stream to the host.

Two transports: inherited pipes (fd 3 from the host, fd 4 to the host), or, when ``SNAKEPIT_CONNECT``
names a Unix socket, a connection back to the host that first sends the one-time ``SNAKEPIT_TOKEN``
as a frame (4-byte big-endian length, then the ASCII token). A worker forked by a fork server calls
:func:`open_channel` after the fork, with the values the host sent for it."""

from __future__ import annotations

import os
import struct

from . import protocol as P

TYPE_CHECKING = False
if TYPE_CHECKING:
    import _socket

__all__ = ["open_channel"]

#: The socket of the current channel, kept so that its file descriptor stays open.
_channel_socket: _socket.socket | None = None
#: (read fd, write fd) of the current channel, once open.
channel_fds: tuple[int, int] | None = None


def open_channel(environ: os._Environ[str] | dict[str, str] | None = None) -> tuple[int, int]:
    """Return ``(read_fd, write_fd)``: ``(3, 4)`` for pipes, or the connected socket's fd twice."""
    global _channel_socket, channel_fds
    env = os.environ if environ is None else environ
    path = env.get(P.ENV_CONNECT)
    if not path:
        channel_fds = (int(env.get(P.ENV_RFD) or P.DEFAULT_RFD), int(env.get(P.ENV_WFD) or P.DEFAULT_WFD))
        return channel_fds
    # The C module: `socket` builds its enums at import (a few ms), and a worker on pipes needs neither.
    import _socket

    token = env.get(P.ENV_TOKEN, "").encode("ascii")
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    sock.connect(path)
    sock.sendall(struct.pack(">I", len(token)) + token)
    _channel_socket = sock
    fd = sock.fileno()
    channel_fds = (fd, fd)
    return channel_fds
