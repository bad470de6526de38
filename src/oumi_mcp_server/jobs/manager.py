"""JobManager: what JobService does, loaded on first use (see service.py).

Identity comes from the registry, state from the engines (never stored):
process jobs from the process backend, everything else from oumi.launcher.
Per-job runtimes live only while a launch or a process needs them. On start
the service reconciles local records left by earlier server processes before
it accepts local launches, then sweeps stale runtimes and prunes old records.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.backends.base import JobBackend, Observation
from oumi_mcp_server.jobs.backends.launcher import LauncherBackend, LauncherLimits
from oumi_mcp_server.jobs.backends.launcher_identity import launched_as
from oumi_mcp_server.jobs.backends.local import LocalBackend
from oumi_mcp_server.jobs.cloud_plan import CloudResources, is_job_config
from oumi_mcp_server.jobs.cloud_runs import CloudRuns
from oumi_mcp_server.jobs.commands import check_log_request, check_status_filter
from oumi_mcp_server.jobs.launch import check_arguments, check_cloud
from oumi_mcp_server.jobs.listing import foreign_status_report, job_list
from oumi_mcp_server.jobs.local_runs import LocalRuns, RunServices
from oumi_mcp_server.jobs.models import (
    CancelResult,
    JobList,
    JobLogs,
    JobStatusReport,
    RunJobResult,
)
from oumi_mcp_server.jobs.naming import check_job_id
from oumi_mcp_server.jobs.process import process_start_time
from oumi_mcp_server.jobs.records import LOCAL_CLOUD, PROCESS_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import JobIdTakenError, Registry
from oumi_mcp_server.jobs.reports import (
    STDERR_TAIL_LINES,
    STDOUT_TAIL_LINES,
    cancel_result,
    log_chunk,
    logs_next_step,
    status_report,
)
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.launcher.engine import LauncherEngine, OumiLauncherEngine
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import JOB_PRUNE_INTERVAL_S, JOB_SWEEP_INTERVAL_S, Settings
from oumi_mcp_server.validation.service import ValidationService

logger = logging.getLogger(__name__)


class JobManager:
    def __init__(
        self,
        settings: Settings,
        *,
        validation: ValidationService,
        preflight: PreflightService,
        registry: Registry | None = None,
        local: LocalBackend | None = None,
        launcher: Callable[[], LauncherEngine] = OumiLauncherEngine,
        launcher_limits: LauncherLimits | None = None,
    ) -> None:
        self._settings = settings
        self.registry = registry or Registry(settings.state_dir)
        self.local = local or LocalBackend(
            oumi_executable=str(settings.oumi_executable) if settings.oumi_executable else None,
            cancel_grace_s=settings.job_cancel_grace_s,
        )
        self.launcher = LauncherBackend(
            launcher,
            self.registry,
            limits=launcher_limits or settings.launcher_limits(),
            listed_clouds=settings.listed_clouds,
        )
        self.runtimes = RuntimeTable()
        shared = RunServices(settings, validation, preflight, self.registry, self.runtimes)
        self._local_runs = LocalRuns(shared, self.local)
        self._cloud_runs = CloudRuns(shared, self.launcher)
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
        unfinished = await registry_ops.call(
            lambda: [
                record
                for record in self.registry.all(backend=PROCESS_BACKEND)
                if RunDir(Path(record.run_dir)).read_exit() is None
            ]
        )
        observations = await self.local.observe(unfinished)
        counts: dict[str, int] = {}
        for record, observation in zip(unfinished, observations, strict=True):
            counts[observation.state.value] = counts.get(observation.state.value, 0) + 1
            if record.pid is None and observation.pid is not None:
                await registry_ops.call(functools.partial(self._repair, record, observation))
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
        resources: CloudResources | None = None,
    ) -> RunJobResult:
        args = check_arguments(
            command,
            job_name=job_name,
            cloud=cloud,
            cluster_name=cluster_name,
            envs=envs or {},
            overrides=overrides or [],
        )
        wanted = (resources or CloudResources()).check()
        if not args.id_generated:  # a dry run tells the truth about a taken name too
            taken = await registry_ops.call(lambda: self.registry.find(args.job_id))
            if taken is not None:
                raise JobIdTakenError(args.job_id)
        through_launcher = args.cloud not in ("", LOCAL_CLOUD) or await registry_ops.call(
            lambda: is_job_config(config_path, client_cwd)
        )
        if through_launcher:
            return await self._cloud_runs.run(
                args,
                config_path,
                client_cwd,
                dry_run=dry_run,
                cluster_name=cluster_name.strip(),
                resources=wanted,
            )
        if cluster_name.strip() or wanted != CloudResources():
            field = "cluster_name" if cluster_name.strip() else "accelerators/disk_size_gb/use_spot"
            raise InvalidArgumentError(
                field,
                "it only applies to jobs launched through oumi.launcher (a cloud or a job config).",
                next_step="Leave cluster_name, accelerators, disk_size_gb and use_spot unset for "
                "local runs, or pass cloud.",
            )
        if not dry_run:
            await self.ensure_reconciled()
        return await self._local_runs.run(
            args, config_path, client_cwd, dry_run=dry_run, observe=self._observe_one
        )

    async def _observe_one(self, record: JobRecord) -> Observation:
        return (await self._observe([record]))[0]

    # -- status, list, logs, cancel -------------------------------------------------------

    async def _record(self, job_id: str) -> JobRecord:
        checked = check_job_id(job_id)
        return await registry_ops.call(lambda: self.registry.get(checked))

    def _backend(self, record: JobRecord) -> JobBackend:
        return self.local if record.is_local else self.launcher

    async def _observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        """Live state of each record, in order, from each record's own engine."""
        launching = frozenset(
            job_id
            for job_id in self.runtimes.ids()
            if (rt := self.runtimes.get(job_id)) and rt.launch_task and not rt.launch_task.done()
        )
        local = [r for r in records if r.is_local]
        remote = [r for r in records if not r.is_local]
        local_seen, remote_seen = await asyncio.gather(
            self.local.observe(local, launching=launching),
            self.launcher.observe(remote, runtimes=self.runtimes.get),
        )
        by_id = dict(zip((r.job_id for r in local), local_seen, strict=True))
        by_id.update(zip((r.job_id for r in remote), remote_seen, strict=True))
        return [by_id[record.job_id] for record in records]

    async def status(self, job_id: str, cloud: str = "", cluster_name: str = "") -> JobStatusReport:
        if cloud.strip():
            return await self._launcher_job_status(job_id, cloud, cluster_name)
        record = await self._record(job_id)
        observation = await self._observe_one(record)
        stderr_tail: list[str] = []
        stdout_tail: list[str] = []
        if observation.state is JobState.FAILED and (record.is_local or record.cloud == "local"):
            reads = await self._backend(record).read_logs(
                record, ("stderr", "stdout"), lines=STDERR_TAIL_LINES, offset=None
            )
            tails = {read.stream: read.page.text.splitlines() for read in reads}
            stderr_tail = tails.get("stderr", [])[-STDERR_TAIL_LINES:]
            stdout_tail = tails.get("stdout", [])[-STDOUT_TAIL_LINES:]
        return status_report(record, observation, stderr_tail, stdout_tail)

    async def _launcher_job_status(
        self, launcher_job_id: str, cloud: str, cluster_name: str
    ) -> JobStatusReport:
        """A job by its launcher id: ours (enriched with our record) or anyone's."""
        target = check_cloud(cloud)
        job_ref = check_job_id(launcher_job_id)
        cluster = check_job_id(cluster_name, "cluster_name") if cluster_name.strip() else ""
        jobs = await self.launcher.find_jobs(target, cluster, job_ref)
        if not jobs:
            raise NotFoundError(
                f"oumi.launcher knows no job '{job_ref}' on {target}"
                + (f"/{cluster}." if cluster else "."),
                next_step="list_jobs shows every job the launcher knows, with cloud and cluster.",
            )
        if len(jobs) > 1:
            clusters = ", ".join(sorted({job.cluster for job in jobs}))
            raise InvalidArgumentError(
                "cluster_name",
                f"job '{job_ref}' exists on several {target} clusters: {clusters}.",
                next_step="Pass cluster_name to pick one.",
            )
        job = jobs[0]
        record = await registry_ops.call(
            lambda: self.registry.find_launched(target, job.cluster, job.id)
        )
        if record is not None and launched_as(record, job):
            return await self.status(record.job_id)
        return foreign_status_report(job)

    async def list_jobs(self, status: str = "all", limit: int = 50) -> JobList:
        wanted = check_status_filter(status)
        records = await registry_ops.call(self.registry.all)
        listings, observations = await asyncio.gather(
            self.launcher.listings.list_all(), self._observe_listed(records)
        )
        return job_list(wanted, limit, records, observations, listings, self.launcher)

    async def _observe_listed(self, records: Sequence[JobRecord]) -> list[Observation | None]:
        """Observations for process jobs and launches without a job id; None for the rest."""
        unlisted = [r for r in records if not r.is_launched]
        observed = dict(
            zip(
                (r.job_id for r in unlisted),
                await self._observe(unlisted),
                strict=True,
            )
        )
        return [observed.get(record.job_id) for record in records]

    async def logs(
        self, job_id: str, lines: int = 200, stream: str = "both", offset: int | None = None
    ) -> JobLogs:
        streams = check_log_request(stream, lines, offset)
        record = await self._record(job_id)
        observation, reads = await asyncio.gather(
            self._observe_one(record),
            self._backend(record).read_logs(record, streams, lines=lines, offset=offset),
        )
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
        if not record.is_local:
            outcome = await self.launcher.cancel(record, force=force, runtime=runtime)
            return cancel_result(record.job_id, outcome, launcher=True)
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
        old = await registry_ops.call(lambda: self.registry.older_than(cutoff))
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

        await registry_ops.call(delete)
        for job_id in ids:
            self.runtimes.evict_runtime(job_id)
        self.local.forget(ids)
        self.launcher.forget(ids)
        if ids:
            logger.info("Pruned %d job record(s) older than the retention period", len(ids))
        return ids
