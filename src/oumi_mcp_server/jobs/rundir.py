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
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oumi_mcp_server.private import DIR_MODE, make_private, open_private, private_dir

JOBS_DIR = "jobs"
CANCEL_FILE = "cancel.json"


def jobs_root(state_dir: Path) -> Path:
    return state_dir / JOBS_DIR


def write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` so that readers see the old file or the whole new one, never half."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = open_private(temporary, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(data, out)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when it is missing, unreadable or not an object."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def for_job(cls, state_dir: Path, job_id: str) -> RunDir:
        return cls(jobs_root(state_dir) / job_id)

    def staged_config(self, original: Path) -> Path:
        suffix = original.suffix if original.suffix in (".yaml", ".yml") else ".yaml"
        return self.path / f"config{suffix}"

    def create(self) -> None:
        """Create the directory (0700); an existing one means the id is taken
        (raises FileExistsError)."""
        private_dir(self.path.parent)
        self.path.mkdir(mode=DIR_MODE)

    def stage(self, original: Path) -> Path:
        """Copy the user's config in, so later edits do not change the running job."""
        target = self.staged_config(original)
        shutil.copyfile(original, target)
        make_private(target)
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
