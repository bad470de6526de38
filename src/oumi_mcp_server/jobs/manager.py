"""JobManager: what JobService does, loaded on first use (see service.py).

Identity comes from the registry, state from the engine (never stored), and
per-job runtimes live only while a launch or a process needs them. On start
the service reconciles local records left by earlier server processes before
it accepts launches, then sweeps stale runtimes and prunes old records.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs import logs as log_files
from oumi_mcp_server.jobs.backends.base import LaunchSpec, Observation
from oumi_mcp_server.jobs.backends.local import LocalBackend
from oumi_mcp_server.jobs.catalog import COMMAND_KIND
from oumi_mcp_server.jobs.commands import check_log_request, check_status_filter, matches_filter
from oumi_mcp_server.jobs.launch import (
    CheckedArgs,
    Plan,
    check_arguments,
    make_plan,
    summarize_checks,
)
from oumi_mcp_server.jobs.models import (
    CancelResult,
    CheckSummary,
    JobList,
    JobLogs,
    JobStatusReport,
    RunJobResult,
)
from oumi_mcp_server.jobs.naming import check_job_id, generate_job_id
from oumi_mcp_server.jobs.process import process_start_time
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import JobIdTakenError, Registry
from oumi_mcp_server.jobs.reports import (
    STDERR_TAIL_LINES,
    STDOUT_TAIL_LINES,
    cancel_result,
    log_chunk,
    logs_next_step,
    run_result,
    status_report,
    summary,
)
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import (
    JOB_PRUNE_INTERVAL_S,
    JOB_SUPERVISE_POLL_S,
    JOB_SWEEP_INTERVAL_S,
    REGISTRY_TIMEOUT_S,
    Settings,
)
from oumi_mcp_server.validation.service import ValidationService

logger = logging.getLogger(__name__)

MAX_ID_ATTEMPTS = 5
T = TypeVar("T")


class JobManager:
    def __init__(
        self,
        settings: Settings,
        *,
        validation: ValidationService,
        preflight: PreflightService,
        registry: Registry | None = None,
        local: LocalBackend | None = None,
    ) -> None:
        self._settings = settings
        self._validation = validation
        self._preflight = preflight
        self.registry = registry or Registry(settings.state_dir)
        self.local = local or LocalBackend(
            oumi_executable=str(settings.oumi_executable) if settings.oumi_executable else None,
            cancel_grace_s=settings.job_cancel_grace_s,
        )
        self.runtimes = RuntimeTable()
        self._reconciled = False
        self._reconcile_lock: asyncio.Lock | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        """Reconcile, then sweep runtimes and prune records periodically (background task)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def close(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
        for job_id in self.runtimes.ids():  # the jobs themselves keep running
            self.runtimes.evict_runtime(job_id)

    async def _sweep_forever(self) -> None:
        await self.ensure_reconciled()
        last_prune = 0.0
        while True:
            try:
                self.cleanup_stale_runtimes()
                if time.monotonic() - last_prune >= JOB_PRUNE_INTERVAL_S or not last_prune:
                    last_prune = time.monotonic()
                    await self.prune()
            except Exception:  # the sweep must outlive any single failure
                logger.exception("Job sweep failed")
            await asyncio.sleep(JOB_SWEEP_INTERVAL_S)

    def cleanup_stale_runtimes(self) -> list[str]:
        return self.runtimes.cleanup_stale_runtimes()

    async def ensure_reconciled(self) -> None:
        if self._reconciled:
            return
        if self._reconcile_lock is None:
            self._reconcile_lock = asyncio.Lock()
        async with self._reconcile_lock:
            if not self._reconciled:
                await self.reconcile()
                self._reconciled = True

    async def reconcile(self) -> dict[str, int]:
        """Look at every local record left unfinished: repair identities, count states."""
        unfinished = await self._registry_call(
            lambda: [
                record
                for record in self.registry.all(cloud="local")
                if RunDir(Path(record.run_dir)).read_exit() is None
            ]
        )
        observations = await self.local.observe(unfinished)
        counts: dict[str, int] = {}
        for record, observation in zip(unfinished, observations, strict=True):
            counts[observation.state.value] = counts.get(observation.state.value, 0) + 1
            if record.pid is None and observation.pid is not None:
                await self._registry_call(functools.partial(self._repair, record, observation))
        if counts:
            logger.info("Reconciled %d unfinished local job(s): %s", len(unfinished), counts)
        return counts

    def _repair(self, record: JobRecord, observation: Observation) -> None:
        """Blocking: record the process a wrapper announced in its pid file."""
        pid = observation.pid
        assert pid is not None
        started = process_start_time(pid) if observation.state is JobState.RUNNING else None
        self.registry.set_process(
            record.job_id, pid, started or observation.started_at or record.submitted_at
        )

    # -- launch ----------------------------------------------------------------------

    async def run(
        self,
        config_path: str,
        command: str,
        client_cwd: str,
        *,
        dry_run: bool = True,
        job_name: str = "",
        cloud: str = "",
        cluster_name: str = "",
        envs: Mapping[str, str] | None = None,
        overrides: Sequence[str] | None = None,
    ) -> RunJobResult:
        args = check_arguments(
            command,
            job_name=job_name,
            cloud=cloud,
            cluster_name=cluster_name,
            envs=envs or {},
            overrides=overrides or [],
        )
        if not args.id_generated:  # a dry run tells the truth about a taken name too
            taken = await self._registry_call(lambda: self.registry.find(args.job_id))
            if taken is not None:
                raise JobIdTakenError(args.job_id)
        oumi = self.local.oumi_executable()
        plan = await run_blocking(
            lambda: make_plan(args, config_path, client_cwd, self._settings.state_dir, oumi),
            timeout_s=REGISTRY_TIMEOUT_S,
            what="Reading the config",
        )
        checks = await self._checks(plan)
        if dry_run:
            return run_result(plan, checks, None, dry_run=True)
        if checks.blocking:
            return run_result(plan, checks, None, dry_run=False)
        await self.ensure_reconciled()
        record = await self._reserve(plan, args)
        plan = plan.with_job_id(record.job_id, self._settings.state_dir)
        runtime = self.runtimes.create(record.job_id)
        task = asyncio.ensure_future(self._start(record, plan))
        runtime.launch_task = task
        try:
            launched = await asyncio.shield(task)
        except BaseException:
            if task.done():
                self.runtimes.evict_runtime(record.job_id)
            raise
        observation = (await self._observe([launched]))[0]
        return run_result(plan, checks, observation, dry_run=False)

    async def _checks(self, plan: Plan) -> CheckSummary:
        config, cwd = str(plan.config), str(plan.cwd)
        validation, preflight = await asyncio.gather(
            self._validation.validate(config, cwd, COMMAND_KIND[plan.args.command]),
            self._preflight.check(config, cwd, "local"),
        )
        return summarize_checks(validation, preflight)

    async def _start(self, record: JobRecord, plan: Plan) -> JobRecord:
        """Spawn the job, record its process identity, hand it to a supervisor."""
        runtime = self.runtimes.create(record.job_id)
        spec = LaunchSpec(record, plan.argv, plan.env_additions)
        try:
            launched = await self.local.launch(spec, runtime)
        except BaseException:
            self.runtimes.evict_runtime(record.job_id)
            raise
        pid, started = launched.pid, launched.process_start_time
        if pid is not None and started is not None:
            await self._registry_call(
                lambda: self.registry.set_process(record.job_id, pid, started)
            )
        runtime.launch_task = None
        runtime.supervisor = asyncio.ensure_future(self._supervise(record.job_id))
        return launched

    async def _reserve(self, plan: Plan, args: CheckedArgs) -> JobRecord:
        """Add the record (before anything starts), create the run dir, stage the config."""
        state_dir = self._settings.state_dir
        for attempt in range(MAX_ID_ATTEMPTS):
            job_id = plan.job_id if attempt == 0 else generate_job_id(args.command)
            current = plan.with_job_id(job_id, state_dir)
            record = current.record()

            def reserve(p: Plan = current, r: JobRecord = record) -> None:
                self.registry.add(r)
                try:
                    p.run.create()
                except FileExistsError:
                    self.registry.delete([r.job_id])
                    raise JobIdTakenError(r.job_id) from None
                p.run.stage(p.config)

            try:
                await self._registry_call(reserve)
            except JobIdTakenError:
                if not args.id_generated:
                    raise
                continue
            return record
        raise JobIdTakenError(plan.job_id)

    async def _supervise(self, job_id: str) -> None:
        """Await the process's exit, then evict the job's runtime."""
        try:
            while True:
                runtime = self.runtimes.get(job_id)
                if runtime is None or runtime.process is None or runtime.process_exited():
                    break
                await asyncio.sleep(JOB_SUPERVISE_POLL_S)
        finally:
            self.runtimes.evict_runtime(job_id)

    # -- status, list, logs, cancel -------------------------------------------------------

    async def _record(self, job_id: str) -> JobRecord:
        checked = check_job_id(job_id)
        return await self._registry_call(lambda: self.registry.get(checked))

    async def _observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        launching = frozenset(
            job_id
            for job_id in self.runtimes.ids()
            if (rt := self.runtimes.get(job_id)) and rt.launch_task and not rt.launch_task.done()
        )
        return await self.local.observe(records, launching=launching)

    async def status(self, job_id: str) -> JobStatusReport:
        record = await self._record(job_id)
        observation = (await self._observe([record]))[0]
        stderr_tail: list[str] = []
        stdout_tail: list[str] = []
        if observation.state is JobState.FAILED and record.stderr_path:

            def read_tails() -> tuple[list[str], list[str]]:
                stderr = log_files.tail(Path(record.stderr_path), STDERR_TAIL_LINES, 8000)
                stdout = log_files.tail(Path(record.stdout_path), STDOUT_TAIL_LINES, 4000)
                return stderr.text.splitlines(), stdout.text.splitlines()

            stderr_tail, stdout_tail = await run_blocking(
                read_tails, timeout_s=REGISTRY_TIMEOUT_S, what="Reading the job's output"
            )
        return status_report(record, observation, stderr_tail, stdout_tail)

    async def list_jobs(self, status: str = "all", limit: int = 50) -> JobList:
        wanted = check_status_filter(status)
        records = await self._registry_call(self.registry.all)
        observations = await self._observe(records)
        counts: dict[str, int] = {}
        matched = []
        for record, observation in zip(records, observations, strict=True):
            state = observation.state
            counts[state.value] = counts.get(state.value, 0) + 1
            if matches_filter(wanted, state):
                matched.append(summary(record, observation))
        shown = matched[: max(1, min(limit, 1000))]
        more = len(matched) - len(shown)
        next_step = (
            f"{more} more: call list_jobs with a larger limit or a narrower status."
            if more
            else "get_job_status(job_id) gives details of one job."
        )
        return JobList(
            status=wanted,
            total=len(matched),
            shown=len(shown),
            counts=counts,
            jobs=shown,
            next_step=next_step,
        )

    async def logs(
        self, job_id: str, lines: int = 200, stream: str = "both", offset: int | None = None
    ) -> JobLogs:
        streams = check_log_request(stream, lines, offset)
        record = await self._record(job_id)
        observation = (await self._observe([record]))[0]
        reads = await self.local.read_logs(record, streams, lines=lines, offset=offset)
        chunks = [log_chunk(read) for read in reads]
        next_offset, next_step = logs_next_step(
            record.job_id, chunks, observation.state, offset is not None
        )
        return JobLogs(
            job_id=record.job_id,
            state=observation.state.value,
            chunks=chunks,
            next_offset=next_offset,
            next_step=next_step,
        )

    async def cancel(self, job_id: str, force: bool = False) -> CancelResult:
        record = await self._record(job_id)
        runtime = self.runtimes.get(record.job_id)
        if runtime is not None and runtime.launch_task and not runtime.launch_task.done():
            runtime.cancel_requested = True
            await asyncio.wait(
                [runtime.launch_task], timeout=self.local.launch_timeout_s
            )  # let the spawn finish, then stop what it started
            record = await self._record(job_id)
        outcome = await self.local.cancel(record, force=force, runtime=runtime)
        if outcome.action == "cancelled" and is_terminal(outcome.final.state):
            self.runtimes.evict_runtime(record.job_id)
        return cancel_result(record.job_id, outcome)

    # -- pruning -----------------------------------------------------------------------

    async def prune(self, now: float | None = None) -> list[str]:
        """Delete records (and run dirs) older than the retention period, unless still active."""
        moment = time.time() if now is None else now
        cutoff = moment - self._settings.job_retention_days * 86400
        old = await self._registry_call(lambda: self.registry.older_than(cutoff))
        if not old:
            return []
        observations = await self._observe(old)
        doomed = [r for r, o in zip(old, observations, strict=True) if is_terminal(o.state)]
        ids = [record.job_id for record in doomed]
        state_dir = self._settings.state_dir

        def delete() -> None:
            self.registry.delete(ids)
            for record in doomed:
                RunDir(Path(record.run_dir)).remove(state_dir)

        await self._registry_call(delete)
        for job_id in ids:
            self.runtimes.evict_runtime(job_id)
        self.local.forget(ids)
        if ids:
            logger.info("Pruned %d job record(s) older than the retention period", len(ids))
        return ids

    async def _registry_call(self, fn: Callable[[], T]) -> T:
        return await run_blocking(
            fn,
            timeout_s=REGISTRY_TIMEOUT_S,
            what="The job registry",
            next_step="Another server process may hold the registry; try again.",
        )
