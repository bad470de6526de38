"""A job's run directory under the state dir: staged config, logs, pid/exit/cancel files."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oumi_mcp_server.jobs.wrapper import (
    CANCEL_FILE,
    EXIT_FILE,
    PID_FILE,
    STDERR_FILE,
    STDOUT_FILE,
    write_json_atomically,
)

JOBS_DIR = "jobs"
# Launcher jobs: who is running launcher.up for the job, and how it ended.
LAUNCHING_FILE = "launching.json"
LAUNCH_RESULT_FILE = "launch_result.json"
LAUNCHER_LOGS_DIR = "launcher_logs"  # oumi's local cloud writes the job's output here


def jobs_root(state_dir: Path) -> Path:
    return state_dir / JOBS_DIR


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def for_job(cls, state_dir: Path, job_id: str) -> RunDir:
        return cls(jobs_root(state_dir) / job_id)

    @property
    def stdout(self) -> Path:
        return self.path / STDOUT_FILE

    @property
    def stderr(self) -> Path:
        return self.path / STDERR_FILE

    def staged_config(self, original: Path) -> Path:
        suffix = original.suffix if original.suffix in (".yaml", ".yml") else ".yaml"
        return self.path / f"config{suffix}"

    def create(self) -> None:
        """Create the directory; an existing one means the id is taken (raises FileExistsError)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.mkdir()

    def stage(self, original: Path) -> Path:
        """Copy the user's config in, so later edits do not change the running job."""
        target = self.staged_config(original)
        shutil.copyfile(original, target)
        return target

    def read_pid(self) -> dict[str, Any] | None:
        return _read_json(self.path / PID_FILE)

    def read_exit(self) -> dict[str, Any] | None:
        return _read_json(self.path / EXIT_FILE)

    def read_cancel(self) -> dict[str, Any] | None:
        return _read_json(self.path / CANCEL_FILE)

    def request_cancel(self, *, force: bool) -> dict[str, Any]:
        existing = self.read_cancel()
        if existing is not None:
            return existing
        request = {"requested_at": time.time(), "force": force}
        write_json_atomically(self.path / CANCEL_FILE, request)
        return request

    @property
    def launcher_logs(self) -> Path:
        return self.path / LAUNCHER_LOGS_DIR

    def mark_launching(self, server_pid: int, server_started: float | None) -> None:
        write_json_atomically(
            self.path / LAUNCHING_FILE,
            {"server_pid": server_pid, "server_started": server_started, "at": time.time()},
        )

    def read_launching(self) -> dict[str, Any] | None:
        return _read_json(self.path / LAUNCHING_FILE)

    def record_launch_result(self, result: dict[str, Any]) -> None:
        write_json_atomically(self.path / LAUNCH_RESULT_FILE, {**result, "at": time.time()})

    def read_launch_result(self) -> dict[str, Any] | None:
        return _read_json(self.path / LAUNCH_RESULT_FILE)

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


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None
