"""Keep the process's standard output for MCP messages only.

In stdio mode the client parses every byte on fd 1 as JSON-RPC. Libraries
(SkyPilot's console, oumi's loggers) and child processes happily print there,
which corrupts the stream. ``claim_protocol_streams`` moves the protocol to
private descriptors and points fd 0 at /dev/null and fd 1 at stderr, at the
process level, before anything else runs: Python prints, C-level writes and
inherited descriptors of child processes all land on stderr instead.
"""

from __future__ import annotations

import fcntl
import io
import os
import sys
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class ProtocolStreams:
    """Binary streams that carry MCP messages and nothing else."""

    reader: BinaryIO
    writer: BinaryIO


def _private_duplicate(fd: int) -> int:
    """Duplicate ``fd`` above the standard range, closed on exec."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)


def claim_protocol_streams() -> ProtocolStreams:
    """Move the protocol off fd 0/1 and divert those descriptors.

    After this call, fd 1 (and ``sys.stdout``) write to stderr and fd 0 reads
    from /dev/null; only the returned streams talk to the MCP client.
    """
    sys.stdout.flush()
    reader_fd = _private_duplicate(0)
    writer_fd = _private_duplicate(1)

    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)

    # Python-level streams follow the diverted descriptors.
    sys.stdout = io.TextIOWrapper(
        os.fdopen(1, "wb", closefd=False), encoding="utf-8", errors="replace", line_buffering=True
    )
    sys.stdin = io.TextIOWrapper(os.fdopen(0, "rb", closefd=False), encoding="utf-8")

    return ProtocolStreams(
        reader=os.fdopen(reader_fd, "rb", closefd=False),
        writer=os.fdopen(writer_fd, "wb", closefd=False),
    )
