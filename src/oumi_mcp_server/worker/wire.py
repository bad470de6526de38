"""The worker's wire format: length-prefixed pickles, read back by a restricted unpickler.

Only the standard library's plain types and this package's own classes cross the
socket: the unpickler refuses any other module, so an answer that still holds an
oumi or SkyPilot object fails loudly instead of importing oumi into the server.
The socket is the user's own (0600 in a 0700 dir) and its peer's uid is checked.
"""

from __future__ import annotations

import io
import pickle
import socket
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_FRAME_BYTES = 256 * 1024 * 1024
_ALLOWED_MODULES = frozenset(
    {"builtins", "copyreg", "collections", "datetime", "pathlib", "enum", "_codecs"}
)
_ALLOWED_PREFIXES = ("oumi_mcp_server.", "pydantic.", "pydantic_core.")


class WireError(Exception):
    """A frame that is cut short, too big, or holds a class that may not cross."""


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _ALLOWED_MODULES or module.startswith(_ALLOWED_PREFIXES):
            return super().find_class(module, name)
        raise WireError(f"{module}.{name} may not cross the worker's socket")


def dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def loads(data: bytes) -> Any:
    try:
        return _Unpickler(io.BytesIO(data)).load()
    except WireError:
        raise
    except Exception as exc:  # a damaged frame
        raise WireError(f"unreadable frame: {exc}") from exc


def send(sock: socket.socket, value: object) -> None:
    payload = dumps(value)
    sock.sendall(HEADER.pack(len(payload)) + payload)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError("the peer closed the connection")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def receive(sock: socket.socket) -> Any:
    """The next value; EOFError when the peer is gone, TimeoutError past the socket's timeout."""
    (size,) = HEADER.unpack(_read_exactly(sock, HEADER.size))
    if size > MAX_FRAME_BYTES:
        raise WireError(f"a frame of {size} bytes is over the limit")
    return loads(_read_exactly(sock, size))


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process on the other end of a unix socket (Linux SO_PEERCRED)."""
    credentials = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", credentials)
    return int(uid)
