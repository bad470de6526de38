"""Process jobs: ``oumi <command>`` in its own process group, started and stopped by us.

Launch spawns the wrapper (spawn.py), records its pid and start time, and
hands the job to a supervisor task that evicts its runtime when it exits.
Status is read live from the process and the run-dir files (observe.py);
cancel signals the whole process group: SIGTERM, a grace period, SIGKILL.
On start, records left unfinished by earlier server processes are looked at
again, before any new launch (``recover``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.diagnosis import newest_checkpoint
from oumi_mcp_server.errors import EngineUnavailableError, InvalidArgumentError
from oumi_mcp_server.jobs import logs
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.arguments import CheckedArgs, CloudResources
from oumi_mcp_server.jobs.backend import (
    CancelAction,
    CancelOutcome,
    FinalStates,
    LogRead,
    Observation,
    Survey,
    already_finished,
)
from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.checks import ConfigSource
from oumi_mcp_server.jobs.os_processes import (
    SIGNAL_NAMES,
    group_exists,
    job_processes,
    process_groups,
    process_start_time,
    signal_group,
)
from oumi_mcp_server.jobs.process.files import read_exit
from oumi_mcp_server.jobs.process.observe import observe_process
from oumi_mcp_server.jobs.process.plan import ProcessPlan, make_plan
from oumi_mcp_server.jobs.process.spawn import default_oumi_executable, spawn, wrapper_argv
from oumi_mcp_server.jobs.records import PROCESS_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import JobRuntime, RuntimeTable
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.settings import JOB_SUPERVISE_POLL_S

logger = logging.getLogger(__name__)

LAUNCH_TIMEOUT_S = 30.0
STATUS_TIMEOUT_S = 15.0
CANCEL_GRACE_S = 10.0
KILL_WAIT_S = 5.0
POLL_S = 0.1
RESOURCE_FIELDS = "accelerators/disk_size_gb/use_spot/cpus/memory_gb/time_limit"


class ProcessBackend:
    name = PROCESS_BACKEND

    def __init__(
        self,
        registry: Registry,
        runtimes: RuntimeTable,
        *,
        state_dir: Path,
        oumi_executable: str | None = None,
        python: str = sys.executable,
        cancel_grace_s: float = CANCEL_GRACE_S,
        launch_timeout_s: float = LAUNCH_TIMEOUT_S,
        status_timeout_s: float = STATUS_TIMEOUT_S,
    ) -> None:
        self._registry = registry
        self._runtimes = runtimes
        self._state_dir = state_dir
        self._oumi_executable = oumi_executable
        self._python = python
        self._cancel_grace_s = cancel_grace_s
        self._launch_timeout_s = launch_timeout_s
        self._status_timeout_s = status_timeout_s
        self._final = FinalStates()

    def oumi_executable(self) -> str:
        found = self._oumi_executable or default_oumi_executable()
        if not found:
            raise EngineUnavailableError(
                "The oumi command was not found next to the server's Python or on PATH.",
                next_step="Install oumi==0.9.* in the server's environment, or set "
                "OUMI_MCP_OUMI_EXECUTABLE to the oumi script.",
            )
        return found

    # -- plan and launch ------------------------------------------------------------------

    async def plan(self, args: CheckedArgs, source: ConfigSource) -> ProcessPlan:
        if args.cluster_name or args.resources != CloudResources():
            field = "cluster_name" if args.cluster_name else RESOURCE_FIELDS
            raise InvalidArgumentError(
                field,
                "it only applies to jobs launched through oumi.launcher (a cloud or a job config).",
                next_step=f"Leave cluster_name and {RESOURCE_FIELDS} unset for process jobs (run "
                "here), or pass cloud.",
            )
        return make_plan(args, source, self._state_dir, self.oumi_executable())

    async def launch(self, plan: ProcessPlan, record: JobRecord) -> Observation:
        """Spawn the job (shielded: a caller that goes away does not stop a half-done spawn)."""
        runtime = self._runtimes.create(record.job_id)
        task = asyncio.ensure_future(self._start(record, plan, runtime))
        runtime.launch_task = task
        try:
            launched = await asyncio.shield(task)
        except BaseException:
            if task.done():
                self._runtimes.evict_runtime(record.job_id)
            raise
        return (await self.observe([launched]))[0]

    async def _start(self, record: JobRecord, plan: ProcessPlan, runtime: JobRuntime) -> JobRecord:
        """Spawn the job, record its process identity, hand it to a supervisor."""
        env = {**os.environ, **plan.env_additions}
        wrapper = wrapper_argv(self._python, record, plan.argv)
        try:
            process, started = await run_blocking(
                lambda: spawn(wrapper, record, env, runtime),
                timeout_s=self._launch_timeout_s,
                what="Starting the job's process",
            )
        except BaseException:
            self._runtimes.evict_runtime(record.job_id)
            raise
        runtime.process = process
        await registry_ops.call(
            lambda: self._registry.set_process(record.job_id, process.pid, started)
        )
        runtime.launch_task = None
        runtime.supervisor = asyncio.ensure_future(self._supervise(record.job_id, runtime))
        return record.with_process(process.pid, started)

    async def _supervise(self, job_id: str, runtime: JobRuntime) -> None:
        """Await the process's exit, then evict the job's runtime (this one only: a
        restarted job's next attempt has a runtime of its own under the same id)."""
        try:
            while self._runtimes.get(job_id) is runtime:
                if runtime.process is None or runtime.process_exited():
                    break
                await asyncio.sleep(JOB_SUPERVISE_POLL_S)
        finally:
            if self._runtimes.get(job_id) is runtime:
                self._runtimes.evict_runtime(job_id)

    # -- observe ----------------------------------------------------------------------------

    async def observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        items = [(record, self._runtimes.is_launching(record.job_id)) for record in records]

        def observe_all() -> list[Observation]:
            groups = functools.cache(process_groups)  # one look at the table per batch
            return [self._observe_one(record, launching, groups) for record, launching in items]

        return await run_blocking(
            observe_all, timeout_s=self._status_timeout_s, what="Reading job status"
        )

    def _observe_one(
        self, record: JobRecord, launching: bool, groups: Callable[[], dict[int, list[int]]]
    ) -> Observation:
        final = self._final.get(record.attempt_key)
        if final is not None:
            return final
        observation = observe_process(record, launching=launching, groups=groups)
        if is_terminal(observation.state):
            self._final.put(record.attempt_key, observation)
        return observation

    async def survey(self, records: Sequence[JobRecord], clouds: Sequence[str] = ()) -> Survey:
        return Survey(await self.observe(records))  # no clouds: ``clouds`` changes nothing

    def forget(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self._final.pop(job_id)

    async def recover(self) -> dict[str, int]:
        """Look at every record left unfinished: repair identities, count states."""
        unfinished = await registry_ops.call(
            lambda: [
                record
                for record in self._registry.all(backend=PROCESS_BACKEND)
                if read_exit(RunDir.of(record)) is None
            ]
        )
        observations = await self.observe(unfinished)
        counts: dict[str, int] = {}
        for record, observation in zip(unfinished, observations, strict=True):
            counts[observation.state.value] = counts.get(observation.state.value, 0) + 1
            if record.pid is None and observation.pid is not None:
                await registry_ops.call(functools.partial(self._repair, record, observation))
        if counts:
            logger.info("Reconciled %d unfinished process job(s): %s", len(unfinished), counts)
        return counts

    def _repair(self, record: JobRecord, observation: Observation) -> None:
        """Blocking: record the process a wrapper announced in its pid file."""
        pid = observation.pid
        assert pid is not None
        started = process_start_time(pid) if observation.state is JobState.RUNNING else None
        self._registry.set_process(
            record.job_id, pid, started or observation.started_at or record.submitted_at
        )

    # -- cancel ------------------------------------------------------------------------------

    async def cancel(self, record: JobRecord, *, force: bool) -> CancelOutcome:
        runtime = self._runtimes.get(record.job_id)
        if runtime is not None and runtime.launch_task is not None and runtime.launching:
            # Let the spawn finish, then stop what it started.
            await asyncio.wait([runtime.launch_task], timeout=self._launch_timeout_s)
            job_id = record.job_id
            record = await registry_ops.call(lambda: self._registry.get(job_id))
        outcome = await self._stop(record, force=force, runtime=runtime)
        if outcome.action == "cancelled" and is_terminal(outcome.final.state):
            self._runtimes.evict_runtime(record.job_id)
        return outcome

    async def _stop(
        self, record: JobRecord, *, force: bool, runtime: JobRuntime | None
    ) -> CancelOutcome:
        previous = (await self.observe([record]))[0]
        pid = previous.pid or record.pid
        if is_terminal(previous.state) and not (pid and await self._members(record, pid)):
            return already_finished(previous)
        run = RunDir.of(record)
        await run_blocking(
            lambda: run.request_cancel(force=force), timeout_s=5.0, what="Recording the cancel"
        )
        signals: list[str] = []
        if pid is not None:
            first = signal.SIGKILL if force else signal.SIGTERM
            if signal_group(pid, first):
                signals.append(SIGNAL_NAMES[first])
                # A stopped process (SIGSTOP) only acts on SIGTERM once it runs again.
                signal_group(pid, signal.SIGCONT)
            grace = KILL_WAIT_S if force else self._cancel_grace_s
            if not await self._wait_gone(record, pid, grace, runtime) and not force:
                if signal_group(pid, signal.SIGKILL):
                    signals.append("SIGKILL")
                await self._wait_gone(record, pid, KILL_WAIT_S, runtime)
        self._final.pop(record.job_id)  # what it was before the cancel is not what it is now
        final = (await self.observe([record]))[0]
        action: CancelAction = "cancelled" if is_terminal(final.state) else "still_running"
        return CancelOutcome(
            action, previous, final, _cancel_message(action, final, signals), signals
        )

    async def _members(self, record: JobRecord, pgid: int) -> list[int]:
        """The live processes of the job's group (its marker in their environment)."""
        return await run_blocking(
            lambda: job_processes(process_groups(), pgid, JOB_MARKER_ENV, record.job_id),
            timeout_s=5.0,
            what="Listing the job's processes",
        )

    async def _wait_gone(
        self, record: JobRecord, pgid: int, timeout_s: float, runtime: JobRuntime | None
    ) -> bool:
        """Wait until no live process of the job is left (reaping our own child on the way)."""
        deadline = time.monotonic() + timeout_s
        while True:
            if runtime is not None and runtime.process is not None:
                runtime.process.poll()
            if not group_exists(pgid) or not await self._members(record, pgid):
                return True
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(POLL_S)

    # -- logs ----------------------------------------------------------------------------

    async def logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        paths = {"stdout": record.stdout_path, "stderr": record.stderr_path}
        return await run_blocking(
            lambda: [
                LogRead(stream, paths[stream], logs.read_page(Path(paths[stream]), lines, offset))
                for stream in streams
            ],
            timeout_s=self._status_timeout_s,
            what="Reading job logs",
        )

    async def newest_checkpoint(self, record: JobRecord) -> str | None:
        """The newest complete checkpoint in the job's output dir (on this machine)."""
        if not record.output_dir:
            return None
        folder = Path(record.output_dir)
        found = await run_blocking(
            lambda: newest_checkpoint(folder), timeout_s=30.0, what="Reading checkpoints"
        )
        return str(found) if found is not None else None

    async def failure_output(self, record: JobRecord, lines: int) -> dict[str, list[str]]:
        reads = await self.logs(record, ("stderr", "stdout"), lines=lines, offset=None)
        return {read.stream: read.page.text.splitlines() for read in reads}


def _cancel_message(action: str, final: Observation, signals: list[str]) -> str:
    sent = " then ".join(signals)
    if action == "cancelled":
        how = f"sent {sent} to the job's process group" if sent else "it never started"
        return f"Cancelled: {how}; it is {final.state.value}."
    if not sent:
        return (
            "Cancel requested: the job is still being launched (by another server process); "
            "it will not start."
        )
    return (
        f"Sent {sent}, but the process group is still alive. Call cancel_job again with force=true."
    )
