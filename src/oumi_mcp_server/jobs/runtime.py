"""In-memory per-job state, kept only while a job needs it, then evicted.

A runtime holds what one server process needs to drive a job it started: the
process handle (to reap it), the supervisor task awaiting its exit, the launch
task, the cancel flag and any files still open. It is evicted when the job
reaches a terminal state (by its supervisor) and by the periodic sweep, so
memory never grows with the number of jobs ever run. Nothing in here is a
source of truth for status; a new server process starts with an empty table.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import time
from dataclasses import dataclass, field
from typing import IO, Any

logger = logging.getLogger(__name__)

# A runtime with no process and no running task is stale after this long.
IDLE_RUNTIME_S = 60.0


@dataclass
class JobRuntime:
    job_id: str
    process: subprocess.Popen[bytes] | None = None
    supervisor: asyncio.Task[None] | None = None
    launch_task: asyncio.Task[Any] | None = None
    cancel_requested: bool = False
    open_files: list[IO[Any]] = field(default_factory=list)
    created_at: float = field(default_factory=time.monotonic)

    def close_files(self) -> None:
        while self.open_files:
            handle = self.open_files.pop()
            try:
                handle.close()
            except OSError as exc:  # closing is best effort
                logger.debug("Closing a file of job %s failed: %s", self.job_id, exc)

    @property
    def launching(self) -> bool:
        """True while the launch task (a spawn, or oumi.launcher's up) is in flight."""
        return self.launch_task is not None and not self.launch_task.done()

    def process_exited(self) -> bool:
        """True once the process is gone (this also reaps it, so no zombie is left)."""
        return self.process is not None and self.process.poll() is not None

    def is_stale(self, now: float) -> bool:
        if self.process_exited():
            return True
        if self.process is not None:
            return False
        busy = [task for task in (self.launch_task, self.supervisor) if task and not task.done()]
        return not busy and now - self.created_at > IDLE_RUNTIME_S


class RuntimeTable:
    def __init__(self) -> None:
        self._runtimes: dict[str, JobRuntime] = {}

    def __len__(self) -> int:
        return len(self._runtimes)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._runtimes

    def ids(self) -> list[str]:
        return list(self._runtimes)

    def get(self, job_id: str) -> JobRuntime | None:
        return self._runtimes.get(job_id)

    def is_launching(self, job_id: str) -> bool:
        runtime = self._runtimes.get(job_id)
        return runtime is not None and runtime.launching

    def create(self, job_id: str) -> JobRuntime:
        runtime = self._runtimes.get(job_id)
        if runtime is None:
            runtime = self._runtimes[job_id] = JobRuntime(job_id)
        return runtime

    def evict_runtime(self, job_id: str) -> bool:
        """Drop a job's runtime: close its files, cancel its tasks. True if there was one."""
        runtime = self._runtimes.pop(job_id, None)
        if runtime is None:
            return False
        runtime.close_files()
        try:
            current = asyncio.current_task()
        except RuntimeError:  # no running loop
            current = None
        for task in (runtime.launch_task, runtime.supervisor):
            if task is not None and task is not current and not task.done():
                task.cancel()
        if runtime.process is not None:
            runtime.process.poll()  # reap it if it has exited
        runtime.process = None
        return True

    def cleanup_stale_runtimes(self, now: float | None = None) -> list[str]:
        """Evict every runtime whose process has exited or that sits idle; return their ids."""
        moment = time.monotonic() if now is None else now
        stale = [job_id for job_id, rt in self._runtimes.items() if rt.is_stale(moment)]
        for job_id in stale:
            self.evict_runtime(job_id)
        return stale
