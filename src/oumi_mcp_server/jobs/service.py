"""JobService: the job API. The job tools and the tests call it; it is the front door.

Identity comes from the registry, state from the engines (never stored). Each
record names its engine (``backend``), and every per-job call goes to that
engine through the ``JobBackend`` Protocol (backend.py): ``process/`` runs
``oumi`` as our own process group, ``launcher/`` goes through oumi.launcher.
Per-job runtimes live only while a launch or a process needs them. On start
the service lets each engine recover what earlier server processes left
before it accepts launches, then sweeps stale runtimes and prunes old records.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import NotFoundError, OumiMcpError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.acceptance import (
    Existing,
    Request,
    accept,
    hand_over,
    named_job,
    owner,
    withdraw,
)
from oumi_mcp_server.jobs.arguments import (
    CloudResources,
    check_arguments,
    check_cloud,
    check_log_request,
    check_status_filter,
)
from oumi_mcp_server.jobs.backend import (
    JobBackend,
    JobHolder,
    LauncherJobs,
    LaunchPlan,
    LogRead,
    Observation,
)
from oumi_mcp_server.jobs.catalog import MAX_LOG_LINES
from oumi_mcp_server.jobs.checks import ConfigSource, LaunchChecks, read_config
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.listing import job_list
from oumi_mcp_server.jobs.metrics import JobMetricsReport, check_metrics_request, job_metrics
from oumi_mcp_server.jobs.models import (
    CancelResult,
    JobList,
    JobLogs,
    JobStatusReport,
    RunJobResult,
)
from oumi_mcp_server.jobs.naming import check_job_id
from oumi_mcp_server.jobs.pending import PendingLaunches
from oumi_mcp_server.jobs.records import PENDING_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import Registry, RegistryDamagedError
from oumi_mcp_server.jobs.reports import (
    STDERR_TAIL_LINES,
    STDOUT_TAIL_LINES,
    cancel_result,
    cancelled_before_start,
    existing_job_result,
    log_chunk,
    logs_next_step,
    status_report,
    summary,
)
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import JOB_PRUNE_INTERVAL_S, JOB_SWEEP_INTERVAL_S, Settings
from oumi_mcp_server.validation.service import ValidationService

logger = logging.getLogger(__name__)

METRICS_TIMEOUT_S = 30.0  # reading (at most 8 MB a file) and drawing
ACCEPT_WAIT_S = 30.0  # a status or cancel waits this long for a launch being accepted


class JobService:
    def __init__(
        self,
        settings: Settings,
        *,
        validation: ValidationService,
        preflight: PreflightService,
        config_roots: Sequence[Path] = (),
        registry: Registry,
        runtimes: RuntimeTable,
        process: JobBackend[Any],
        launcher: LauncherJobs[Any],
    ) -> None:
        self._settings = settings
        self._checks = LaunchChecks(validation, preflight)
        self._config_roots = tuple(config_roots)  # besides the project: readable configs
        self.registry = registry
        self.runtimes = runtimes
        self._process = process
        self._launcher = launcher
        engines: dict[str, JobHolder] = {process.name: process, launcher.name: launcher}
        self._holders: dict[str, JobHolder] = {
            **engines,
            PENDING_BACKEND: PendingLaunches(registry, engines),
        }
        self._owner = owner()  # this server process, as the owner of the launches it accepts
        # Named launches between their request and their record: a status or cancel that
        # comes meanwhile waits for the record instead of answering "no job".
        self._accepting: dict[str, asyncio.Event] = {}
        self._reconciled = False
        self._reconcile_lock: asyncio.Lock | None = None
        self._sweeper: asyncio.Task[None] | None = None

    # -- lifecycle -----------------------------------------------------------------------

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
        await self._launcher.close()

    async def _sweep_forever(self) -> None:
        last_prune = 0.0
        while True:
            try:
                await self.ensure_reconciled()  # tried again each sweep until it works
                self.cleanup_stale_runtimes()
                if time.monotonic() - last_prune >= JOB_PRUNE_INTERVAL_S or not last_prune:
                    last_prune = time.monotonic()
                    await self.prune()
            except OumiMcpError as exc:  # a damaged registry, say: said, not a traceback
                logger.warning("Job sweep: %s", exc.message)
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
        """Let each engine look at the jobs left unfinished; the count per state."""
        counts: dict[str, int] = {}
        for backend in self._holders.values():
            for state, count in (await backend.recover()).items():
                counts[state] = counts.get(state, 0) + count
        return counts

    # -- launch ----------------------------------------------------------------------------

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
        """Check, plan and (unless a dry run, or blocked by the checks) launch one job.

        A launch is accepted (its id reserved) before its checks run, so it can be seen
        and cancelled at once; a repeated request with the same job_name returns the job
        it started (acceptance.py)."""
        args = check_arguments(
            command,
            job_name=job_name,
            cloud=cloud,
            cluster_name=cluster_name,
            envs=envs or {},
            overrides=overrides or [],
            resources=resources,
        )
        request = Request(args, config_path, client_cwd)
        if not dry_run:
            accepted = asyncio.Event()
            if not args.id_generated:  # before any await: known from this moment
                self._accepting.setdefault(args.job_id, accepted)
            try:
                return await self._launch(request, accepted)
            finally:
                accepted.set()
                if self._accepting.get(args.job_id) is accepted:
                    del self._accepting[args.job_id]
        # A dry run tells the truth about a taken name too (and works without the registry).
        damaged: RegistryDamagedError | None = None
        try:
            existing = await registry_ops.call(lambda: named_job(self.registry, request))
        except RegistryDamagedError as exc:
            existing, damaged = None, exc
        source = await read_config(config_path, client_cwd, self._config_roots)
        backend = self._engine_for(args.cloud, source)
        plan: LaunchPlan = await backend.plan(args, source)
        result = plan.result(await self._checks.check(source, plan, args.envs), None, dry_run=True)
        if damaged is not None:
            return result.model_copy(
                update={"message": f"{result.message} Launching would fail: {damaged.describe()}"}
            )
        if existing is None:
            return result
        return result.model_copy(
            update={
                "message": f"{result.message} A job named '{existing.job_id}' was launched with "
                "this same request already: launching would return it, not start another."
            }
        )

    async def _launch(self, request: Request, announced: asyncio.Event) -> RunJobResult:
        await self.ensure_reconciled()  # earlier processes' jobs are recovered first
        state_dir = self._settings.state_dir
        try:
            accepted = await registry_ops.call(
                lambda: accept(self.registry, request, state_dir, self._owner)
            )
        finally:
            announced.set()  # the record exists (or never will): waiters may look
        if isinstance(accepted, Existing):
            return await self._existing(accepted.record)
        args, pending = accepted.args, accepted.record
        try:
            source = await read_config(request.config_path, request.client_cwd, self._config_roots)
            backend = self._engine_for(args.cloud, source)
            plan: LaunchPlan = await backend.plan(args, source)
            checks = await self._checks.check(source, plan, args.envs)
            if checks.blocking:
                await self._withdraw(pending)
                return plan.result(checks, None, dry_run=False)
            started = await registry_ops.call(
                lambda: hand_over(self.registry, pending, plan.record(), source.document)
            )
        except BaseException:
            await self._withdraw(pending)
            raise
        if started is None:
            return cancelled_before_start(plan.result(checks, None, dry_run=False))
        observation = await backend.launch(plan, started)
        return plan.result(checks, observation, dry_run=False)

    async def _withdraw(self, pending: JobRecord) -> None:
        """No job is left by a launch that will not happen (unless it was cancelled)."""
        state_dir = self._settings.state_dir
        await asyncio.shield(registry_ops.call(lambda: withdraw(self.registry, pending, state_dir)))

    async def _existing(self, record: JobRecord) -> RunJobResult:
        observation = (await self._holder(record).observe([record]))[0]
        return existing_job_result(record, observation)

    def _engine_for(self, cloud: str, source: ConfigSource) -> JobBackend[Any]:
        """oumi.launcher for a cloud or for a job config (its local cloud included); our own
        process backend for a command's config run here (cloud '' or 'local')."""
        if (cloud and not kind_of(cloud).runs_here) or source.is_job_config:
            return self._launcher
        return self._process

    # -- status, list, logs, cancel ----------------------------------------------------------

    async def _record(self, job_id: str) -> JobRecord:
        checked = check_job_id(job_id)
        try:
            return await registry_ops.call(lambda: self.registry.get(checked))
        except NotFoundError:
            announced = self._accepting.get(checked)
            if announced is None:
                raise
        await asyncio.wait_for(announced.wait(), ACCEPT_WAIT_S)  # its launch is being accepted
        return await registry_ops.call(lambda: self.registry.get(checked))

    async def exists(self, job_id: str) -> bool:
        """True when ``job_id`` (a valid id, else InvalidArgumentError) names a job of ours."""
        checked = check_job_id(job_id)
        return await registry_ops.call(lambda: self.registry.find(checked)) is not None

    def _holder(self, record: JobRecord) -> JobHolder:
        return self._holders[record.backend]

    def _by_engine(self, records: Sequence[JobRecord]) -> list[tuple[JobHolder, list[JobRecord]]]:
        return [
            (backend, [record for record in records if record.backend == name])
            for name, backend in self._holders.items()
        ]

    async def _observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        """Live state of each record, in order, each from its own engine (in parallel)."""
        groups = self._by_engine(records)
        answers = await asyncio.gather(*(backend.observe(group) for backend, group in groups))
        by_id = _by_job_id(groups, answers)
        return [by_id[record.job_id] for record in records]

    async def status(self, job_id: str, cloud: str = "", cluster_name: str = "") -> JobStatusReport:
        """One job's live state; with ``cloud``, ``job_id`` is a launcher job id (anyone's)."""
        if cloud.strip():
            found = await self._launcher.lookup(job_id, cloud, cluster_name)
            if isinstance(found, JobStatusReport):
                return found
            job_id = found.job_id
        record = await self._record(job_id)
        backend = self._holder(record)
        observation = (await backend.observe([record]))[0]
        tails: dict[str, list[str]] = {}
        if observation.state is JobState.FAILED:
            tails = await backend.failure_output(record, STDERR_TAIL_LINES)
        return status_report(
            record,
            observation,
            tails.get("stderr", [])[-STDERR_TAIL_LINES:],
            tails.get("stdout", [])[-STDOUT_TAIL_LINES:],
        )

    async def list_jobs(self, status: str = "all", limit: int = 50, cloud: str = "") -> JobList:
        """Every job with its live state; ``cloud``: an oumi.launcher cloud to ask besides
        the usual ones (jobs/launcher/asked_clouds.py), e.g. one SkyPilot has not enabled."""
        wanted = check_status_filter(status)
        named = [check_cloud(cloud)] if cloud.strip() else []
        records = await registry_ops.call(self.registry.all)
        groups = self._by_engine(records)
        surveys = await asyncio.gather(*(backend.survey(group, named) for backend, group in groups))
        observed = _by_job_id(groups, [survey.observations for survey in surveys])
        rows = [summary(record, observed[record.job_id]) for record in records]
        rows += [row for survey in surveys for row in survey.foreign]
        return job_list(
            wanted,
            limit,
            rows,
            [warning for survey in surveys for warning in survey.warnings],
            [source for survey in surveys for source in survey.listed],
            [note for survey in surveys for note in survey.notes],
        )

    async def warm_listings(self, timeout_s: float) -> list[str]:
        """List once, each within ``timeout_s``, the clouds list_jobs will ask (a SkyPilot
        cloud's first call may start its API server), so that no list_jobs waits for that.
        Returns the sources that answered."""
        return await self._launcher.warm(timeout_s)

    async def live_states(
        self, job_ids: Collection[str] | None = None, final: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Live state of our jobs (all of them, or those named that exist), by job id: what
        a watcher compares between polls. No tails, no jobs of others. ``final``: states
        already seen final (a final state never changes), kept without asking the engine."""
        final = final or {}
        records = await registry_ops.call(self.registry.all)
        if job_ids is not None:
            wanted = set(job_ids)
            records = [record for record in records if record.job_id in wanted]
        live = [record for record in records if record.job_id not in final]
        observations = await self._observe(live)
        states = {
            record.job_id: observation.state.value
            for record, observation in zip(live, observations, strict=True)
        }
        return {
            record.job_id: final.get(record.job_id) or states[record.job_id] for record in records
        }

    async def metrics(
        self, job_id: str, metrics: list[str], last_n: int = 0, chart: bool = True
    ) -> tuple[JobMetricsReport, bytes | None]:
        """The run's metric series, summary and (PNG) chart, read where the job ran: its
        output dir on this machine, else its logs (a cluster's, read within the log budget).
        Works while the job runs (a partial curve) and after."""
        names = check_metrics_request(metrics, last_n)
        status = await self.status(job_id)
        record = await self._record(job_id)
        reads: list[LogRead] = []
        if not (record.is_process or record.is_pending):  # its engine reads its logs
            reads = await self._holder(record).logs(
                record, ("stdout", "stderr"), lines=MAX_LOG_LINES, offset=None
            )
        return await run_blocking(
            lambda: job_metrics(record, status, reads, names, last_n=last_n, chart=chart),
            timeout_s=METRICS_TIMEOUT_S,
            what="Reading the run's metrics and drawing its chart",
        )

    async def logs(
        self, job_id: str, lines: int = 200, stream: str = "both", offset: int | None = None
    ) -> JobLogs:
        streams = check_log_request(stream, lines, offset)
        record = await self._record(job_id)
        backend = self._holder(record)
        observations, reads = await asyncio.gather(
            backend.observe([record]),
            backend.logs(record, streams, lines=lines, offset=offset),
        )
        state = observations[0].state
        chunks = [log_chunk(read) for read in reads]
        next_offset, next_step = logs_next_step(record.job_id, chunks, state, offset is not None)
        return JobLogs(
            job_id=record.job_id,
            state=state.value,
            chunks=chunks,
            next_offset=next_offset,
            next_step=next_step,
        )

    async def cancel(self, job_id: str, force: bool = False) -> CancelResult:
        record = await self._record(job_id)
        outcome = await self._holder(record).cancel(record, force=force)
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
                RunDir.of(record).remove(state_dir)

        await registry_ops.call(delete)
        for job_id in ids:
            self.runtimes.evict_runtime(job_id)
        for backend in self._holders.values():
            backend.forget(ids)
        if ids:
            logger.info("Pruned %d job record(s) older than the retention period", len(ids))
        return ids


def _by_job_id(
    groups: Sequence[tuple[object, list[JobRecord]]], answers: Sequence[list[Observation]]
) -> dict[str, Observation]:
    """Each engine's observations (one list per group, in the group's order), by job id."""
    return {
        record.job_id: observation
        for (_, group), observed in zip(groups, answers, strict=True)
        for record, observation in zip(group, observed, strict=True)
    }
