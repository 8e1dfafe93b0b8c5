"""open_channel: inherited pipes, or a connection back to the host that sends its token first."""

from __future__ import annotations

import os
import socket
import struct
import tempfile

from snakepit_bridge import transport


def test_pipes_by_default() -> None:
    assert transport.open_channel({}) == (3, 4)
    assert transport.open_channel({"SNAKEPIT_RFD": "7", "SNAKEPIT_WFD": "8"}) == (7, 8)


def test_connects_back_and_sends_the_token_first() -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "s")
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        token = "ab" * 32
        rfd, wfd = transport.open_channel({"SNAKEPIT_CONNECT": path, "SNAKEPIT_TOKEN": token})
        conn, _ = server.accept()
        try:
            assert rfd == wfd
            head = conn.recv(4)
            (length,) = struct.unpack(">I", head)
            assert conn.recv(length) == token.encode("ascii")
            # Both directions run over the one socket.
            os.write(wfd, b"to host")
            assert conn.recv(7) == b"to host"
            conn.sendall(b"to worker")
            assert os.read(rfd, 9) == b"to worker"
        finally:
            conn.close()
            server.close()
            channel = transport._channel_socket
            if channel is not None:
                channel.close()
                transport._channel_socket = None
