"""A job's run directory under the state dir: the staged config, the cancel request, JSON files.

Both engines keep a job's files here; each engine names its own files (the
process wrapper's pid and exit records, the launcher's launch records) in its
own folder. Everything here is private to the user (0700 folders, 0600
files). Standard library only: the process wrapper imports this module inside
every job. Blocking: call from worker threads.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from oumi_mcp_server.private import DIR_MODE, open_private, private_dir

JOBS_DIR = "jobs"
CANCEL_FILE = "cancel.json"


def jobs_root(state_dir: Path) -> Path:
    return state_dir / JOBS_DIR


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` so that readers see the old file or the whole new one, never half.

    Each writer has a temporary file of its own (process, thread and a random part), so
    two writers at once (two cancels of one job) never move each other's file away."""
    unique = f"{os.getpid()}.{threading.get_ident()}.{secrets.token_hex(4)}"
    temporary = path.with_name(f".{path.name}.{unique}.tmp")
    descriptor = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class HasRunDir(Protocol):
    """A job's identity record (records.JobRecord): it names its run dir."""

    @property
    def run_dir(self) -> str: ...


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def for_job(cls, state_dir: Path, job_id: str, attempt: int = 1) -> RunDir:
        """A job's run dir; a restarted job's later attempts each have one inside it."""
        first = jobs_root(state_dir) / job_id
        return cls(first if attempt == 1 else first / f"attempt-{attempt}")

    @classmethod
    def of(cls, record: HasRunDir) -> RunDir:
        """The run dir a job's record names."""
        return cls(Path(record.run_dir))

    def staged_config(self, original: Path) -> Path:
        suffix = original.suffix if original.suffix in (".yaml", ".yml") else ".yaml"
        return self.path / f"config{suffix}"

    def create(self) -> None:
        """Create the directory (0700); an existing one means the id is taken
        (raises FileExistsError)."""
        private_dir(self.path.parent)
        self.path.mkdir(mode=DIR_MODE)

    def stage(self, original: Path, text: str) -> Path:
        """Write the config's text, as it was read and checked, as the job's own copy: the
        job runs exactly what was validated, and later edits (or a file swapped for a
        link or a device since) change nothing. A fresh file, never through a link."""
        target = self.staged_config(original)
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
        return target

    def read(self, name: str) -> dict[str, Any] | None:
        return read_json(self.path / name)

    def write(self, name: str, data: dict[str, Any]) -> None:
        write_json_atomically(self.path / name, data)

    def read_cancel(self) -> dict[str, Any] | None:
        return self.read(CANCEL_FILE)

    def request_cancel(self, *, force: bool) -> dict[str, Any]:
        existing = self.read_cancel()
        if existing is not None:
            return existing
        request = {"requested_at": time.time(), "force": force}
        self.write(CANCEL_FILE, request)
        return request

    def remove(self, state_dir: Path) -> bool:
        """Delete the directory, but only if it really is a run dir under the state dir."""
        root = jobs_root(state_dir).resolve()
        try:
            resolved = self.path.resolve()
            resolved.relative_to(root)
        except (OSError, ValueError):
            return False
        if resolved == root or not resolved.is_dir():
            return False
        shutil.rmtree(resolved, ignore_errors=True)
        return True
