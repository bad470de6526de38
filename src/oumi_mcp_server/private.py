"""Private state: the state dir and what it holds are readable by the user only.

Job records, run dirs (staged configs, logs), the audit log and the HTTP token
can hold paths, outputs and secrets. Folders are created 0700 and files 0600,
whatever the process umask (which is left alone: jobs create their outputs
with the user's own defaults). Standard library only: the job wrapper uses it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) if needed; the folder itself becomes 0700."""
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    with contextlib.suppress(PermissionError):  # not ours to change: leave it
        if (path.stat().st_mode & 0o777) != DIR_MODE:
            os.chmod(path, DIR_MODE)
    return path


def open_private(path: Path, flags: int) -> int:
    """``os.open`` that creates the file 0600 (an existing file is made 0600 too)."""
    descriptor = os.open(path, flags | os.O_CREAT, FILE_MODE)
    with contextlib.suppress(OSError):
        os.fchmod(descriptor, FILE_MODE)
    return descriptor


def write_private_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (replacing it), the file 0600."""
    with os.fdopen(open_private(path, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        out.write(text)


def make_private(path: Path) -> None:
    """Make an existing file 0600 (best effort: a missing file is left alone)."""
    with contextlib.suppress(FileNotFoundError, PermissionError):
        os.chmod(path, FILE_MODE)
