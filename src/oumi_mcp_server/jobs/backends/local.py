"""Local jobs: ``oumi <command>`` in its own process group, detached from the server.

The server spawns the wrapper (``python -m oumi_mcp_server.jobs.wrapper``) as
the leader of a new session, with stdout/stderr going to the job's log
files, then forgets about the files: the job survives the server exiting and
records its own exit status. Status is read live from the process and the
run-dir files; cancel signals the whole process group.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import EngineUnavailableError
from oumi_mcp_server.jobs import logs
from oumi_mcp_server.jobs.backends.base import CancelOutcome, LaunchSpec, LogRead, Observation
from oumi_mcp_server.jobs.backends.local_observe import observe_local
from oumi_mcp_server.jobs.process import (
    SIGNAL_NAMES,
    group_exists,
    live_group_members,
    process_start_time,
    signal_group,
)
from oumi_mcp_server.jobs.records import LOCAL_CLOUD, JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import JobRuntime
from oumi_mcp_server.jobs.status import is_terminal
from oumi_mcp_server.jobs.wrapper import EXIT_FILE, write_json_atomically

LAUNCH_TIMEOUT_S = 30.0
STATUS_TIMEOUT_S = 15.0
CANCEL_GRACE_S = 10.0
KILL_WAIT_S = 5.0
POLL_S = 0.1
WRAPPER_MODULE = "oumi_mcp_server.jobs.wrapper"


def default_oumi_executable() -> str | None:
    """The ``oumi`` script next to the server's Python, else the one on PATH."""
    beside = Path(sys.executable).parent / "oumi"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("oumi")


class LocalBackend:
    def __init__(
        self,
        *,
        oumi_executable: str | None = None,
        python: str = sys.executable,
        cancel_grace_s: float = CANCEL_GRACE_S,
        launch_timeout_s: float = LAUNCH_TIMEOUT_S,
        status_timeout_s: float = STATUS_TIMEOUT_S,
    ) -> None:
        self._oumi_executable = oumi_executable
        self._python = python
        self._cancel_grace_s = cancel_grace_s
        self._launch_timeout_s = launch_timeout_s
        self._status_timeout_s = status_timeout_s
        self._final = FinalStates()

    @property
    def launch_timeout_s(self) -> float:
        return self._launch_timeout_s

    def handles(self, cloud: str) -> bool:
        return cloud in ("", LOCAL_CLOUD)

    def oumi_executable(self) -> str:
        found = self._oumi_executable or default_oumi_executable()
        if not found:
            raise EngineUnavailableError(
                "The oumi command was not found next to the server's Python or on PATH.",
                next_step="Install oumi==0.9.* in the server's environment, or set "
                "OUMI_MCP_OUMI_EXECUTABLE to the oumi script.",
            )
        return found

    def wrapper_argv(self, record: JobRecord, argv: Sequence[str]) -> list[str]:
        return [
            self._python,
            "-P",  # never import from the job's working directory
            "-m",
            WRAPPER_MODULE,
            "--run-dir",
            record.run_dir,
            "--marker",
            record.marker,
            "--",
            *argv,
        ]

    async def launch(self, spec: LaunchSpec, runtime: JobRuntime) -> JobRecord:
        record = spec.record
        env = {**os.environ, **spec.env_additions}
        wrapper = self.wrapper_argv(record, spec.argv)

        def spawn() -> tuple[subprocess.Popen[bytes], float]:
            runtime.open_files.append(open(record.stdout_path, "ab"))  # noqa: SIM115
            runtime.open_files.append(open(record.stderr_path, "ab"))  # noqa: SIM115
            try:
                process = subprocess.Popen(
                    wrapper,
                    cwd=record.client_cwd,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=runtime.open_files[0],
                    stderr=runtime.open_files[1],
                    start_new_session=True,
                    close_fds=True,
                )
            except OSError as exc:
                write_json_atomically(
                    Path(record.run_dir) / EXIT_FILE,
                    {"exit_code": 127, "ended_at": time.time(), "error": f"spawn failed: {exc}"},
                )
                raise EngineUnavailableError(
                    f"Could not start the job: {exc}",
                    next_step="Check that the server's Python and oumi are installed.",
                ) from exc
            finally:
                runtime.close_files()  # the child has its own copies
            return process, process_start_time(process.pid) or time.time()

        process, started = await run_blocking(
            spawn, timeout_s=self._launch_timeout_s, what="Starting the job's process"
        )
        runtime.process = process
        return record.with_process(process.pid, started)

    async def observe(
        self, records: Sequence[JobRecord], *, launching: frozenset[str] = frozenset()
    ) -> list[Observation]:
        items = list(records)
        return await run_blocking(
            lambda: [self._observe_one(r, r.job_id in launching) for r in items],
            timeout_s=self._status_timeout_s,
            what="Reading job status",
        )

    def _observe_one(self, record: JobRecord, launching: bool) -> Observation:
        final = self._final.get(record.job_id)
        if final is not None:
            return final
        observation = observe_local(record, launching=launching)
        if is_terminal(observation.state):
            self._final.put(record.job_id, observation)
        return observation

    def forget(self, job_ids: Sequence[str]) -> None:
        """Drop what is remembered about these jobs (their records were pruned)."""
        for job_id in job_ids:
            self._final.pop(job_id)

    async def cancel(
        self, record: JobRecord, *, force: bool, runtime: JobRuntime | None
    ) -> CancelOutcome:
        previous = (await self.observe([record]))[0]
        if is_terminal(previous.state):
            return CancelOutcome("already_finished", previous, previous)
        run = RunDir(Path(record.run_dir))
        await run_blocking(
            lambda: run.request_cancel(force=force), timeout_s=5.0, what="Recording the cancel"
        )
        pid = previous.pid
        signals: list[str] = []
        if pid is not None:
            first = signal.SIGKILL if force else signal.SIGTERM
            if signal_group(pid, first):
                signals.append(SIGNAL_NAMES[first])
            grace = KILL_WAIT_S if force else self._cancel_grace_s
            if not await _wait_group_gone(pid, grace, runtime) and not force:
                if signal_group(pid, signal.SIGKILL):
                    signals.append("SIGKILL")
                await _wait_group_gone(pid, KILL_WAIT_S, runtime)
        final = (await self.observe([record]))[0]
        action = "cancelled" if is_terminal(final.state) else "still_running"
        return CancelOutcome(action, previous, final, signals)

    async def read_logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        paths = {"stdout": record.stdout_path, "stderr": record.stderr_path}

        def read() -> list[LogRead]:
            return [
                LogRead(
                    stream,
                    paths[stream],
                    logs.tail(Path(paths[stream]), lines)
                    if offset is None
                    else logs.read_from(Path(paths[stream]), offset, lines),
                )
                for stream in streams
            ]

        return await run_blocking(read, timeout_s=self._status_timeout_s, what="Reading job logs")


class FinalStates:
    """Terminal observations, remembered because a terminal state never changes.

    Bounded (oldest forgotten first), so memory does not grow with the number
    of jobs ever run; a forgotten job is simply observed again.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Observation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, job_id: str) -> Observation | None:
        return self._entries.get(job_id)

    def put(self, job_id: str, observation: Observation) -> None:
        with self._lock:
            self._entries[job_id] = observation
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def pop(self, job_id: str) -> None:
        with self._lock:
            self._entries.pop(job_id, None)


async def _wait_group_gone(pgid: int, timeout_s: float, runtime: JobRuntime | None) -> bool:
    """Wait until no live process is left in the group (reaping our own child on the way)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if runtime is not None and runtime.process is not None:
            runtime.process.poll()
        if not group_exists(pgid):
            return True
        alive = await run_blocking(
            lambda: live_group_members(pgid), timeout_s=5.0, what="Listing the job's processes"
        )
        if not alive:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
