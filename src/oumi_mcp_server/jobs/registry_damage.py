"""A registry file that cannot be used: how it is told from a busy lock, and the error
that names it with what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from oumi_mcp_server.errors import OumiMcpError


class RegistryDamagedError(OumiMcpError):
    """The registry file cannot be used: not a database, damaged, or not a file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"The job registry {path} is damaged ({reason}), so jobs cannot be listed, "
            "launched or looked up. Everything that does not need it (configs, validation, "
            "pre-flight, docs) still works.",
            next_step=f"Move it aside: mv {path} {path}.damaged (and any {path.name}-wal and "
            f"{path.name}-shm beside it). The next call starts an empty registry; jobs "
            "recorded in the old one keep running but are no longer listed as ours (launcher "
            "jobs still show, as started outside the server).",
        )
        self.path = path


# sqlite3's words for a file that is not (or no longer) a usable database.
_DAMAGE_WORDS = ("not a database", "malformed", "disk image", "unable to open", "disk i/o")


def damage(exc: sqlite3.DatabaseError | OSError, path: Path) -> str | None:
    """Why the registry file cannot be used, or None when the failure is not the file's
    (a lock held by another server, say)."""
    if isinstance(exc, OSError):
        if path.is_dir():
            return "it is a folder, not a file"
        return f"it cannot be opened: {exc.strerror or type(exc).__name__}"
    if path.is_dir():
        return "it is a folder, not a file"
    text = str(exc).lower()
    return text if any(word in text for word in _DAMAGE_WORDS) else None
