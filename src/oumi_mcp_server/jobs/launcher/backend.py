"""Launcher jobs: oumi.launcher (SkyPilot clouds, Kubernetes, Slurm/HPC, its local cloud).

The launcher is the source of truth. Until ``launcher.up`` returns a job id,
the state comes from the launch itself (launch.py: in flight here, in flight
in another server process, failed with its error, or cancelled before it
returned); afterwards only from ``launcher.status``. A terminal state seen
once is remembered, because it never changes (and oumi's local cloud can
report a cancelled job as failed a moment later).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Literal

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.diagnosis import newest_checkpoint
from oumi_mcp_server.environment.skypilot_state import SKY_DIR
from oumi_mcp_server.errors import (
    EngineTimeoutError,
    InvalidArgumentError,
)
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.backend import (
    CancelAction,
    CancelOutcome,
    LogRead,
    Observation,
    Survey,
    already_finished,
)
from oumi_mcp_server.jobs.checks import ConfigSource
from oumi_mcp_server.jobs.cluster_list import ClusterSurvey
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.launcher.engine import LauncherEngine
from oumi_mcp_server.jobs.launcher.identity import launched_as, launched_identity, observation_of
from oumi_mcp_server.jobs.launcher.launch import up_and_settle
from oumi_mcp_server.jobs.launcher.leftovers import Leftovers, leftovers_message, stop_leftovers
from oumi_mcp_server.jobs.launcher.listing import CloudListings
from oumi_mcp_server.jobs.launcher.log_reads import read_job_logs
from oumi_mcp_server.jobs.launcher.logs import STREAM_NAME
from oumi_mcp_server.jobs.launcher.lookup import look_up_job
from oumi_mcp_server.jobs.launcher.plan import LauncherPlan, make_plan
from oumi_mcp_server.jobs.launcher.slurm_checkpoints import newest_remote_checkpoint
from oumi_mcp_server.jobs.launcher.slurm_clusters import slurm_clusters
from oumi_mcp_server.jobs.launcher.status import LauncherStatus
from oumi_mcp_server.jobs.launcher.survey import survey_clusters, survey_records, warm_listings
from oumi_mcp_server.jobs.launcher.sync import summarize_sync
from oumi_mcp_server.jobs.models import JobStatusReport
from oumi_mcp_server.jobs.os_processes import process_start_time
from oumi_mcp_server.jobs.records import LAUNCHER_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import JobRuntime, RuntimeTable
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.paths import require_inside
from oumi_mcp_server.preflight.paths_check import ExcludedFiles, skypilot_excluded_files
from oumi_mcp_server.settings import LauncherLimits

logger = logging.getLogger(__name__)

SYNC_SUMMARY_TIMEOUT_S = 30.0
FORCE_REFUSED = (
    "it applies only to jobs this server runs as its own processes; oumi.launcher's "
    "cancel is the only stop it offers for its jobs."
)


class LauncherBackend:
    name = LAUNCHER_BACKEND

    def __init__(
        self,
        engine: Callable[[], LauncherEngine],
        registry: Registry,
        runtimes: RuntimeTable,
        *,
        state_dir: Path,
        limits: LauncherLimits | None = None,
        listed_clouds: Sequence[str] | None = None,
        readable_roots: Sequence[Path] = (),
        slurm_setup: str = "",
        skypilot_dir: Path = SKY_DIR,
        excluded_files: ExcludedFiles = skypilot_excluded_files,
    ) -> None:
        """``excluded_files``: what SkyPilot leaves out of an upload, asked of SkyPilot
        (here or in the engine worker)."""
        self._slurm_setup = slurm_setup
        self._excluded_files = excluded_files
        self._engine = engine
        self._readable_roots = tuple(readable_roots)  # a working_dir may lie there too
        self._registry = registry
        self._runtimes = runtimes
        self._state_dir = state_dir
        self.limits = limits or LauncherLimits()
        self.listings = CloudListings(
            engine,
            timeout_s=self.limits.list_s,
            cache_s=self.limits.list_cache_s,
            clouds_timeout_s=self.limits.load_s,
            only=listed_clouds,
            skypilot_dir=skypilot_dir,
        )
        self.status = LauncherStatus(engine, runtimes, self.limits)
        self.leftovers = Leftovers(self.limits)
        self._server_started = process_start_time(os.getpid())

    # -- plan and launch -------------------------------------------------------------------

    async def plan(self, args: CheckedArgs, source: ConfigSource) -> LauncherPlan:
        plan = make_plan(args, source, self._state_dir, slurm_setup=self._slurm_setup)
        working_dir = require_inside(
            "working_dir", plan.working_dir, source.cwd, self._readable_roots
        )
        if not kind_of(plan.cloud).syncs_working_dir:
            return plan  # oumi's local cloud runs in the working dir itself: nothing is copied
        sync = await run_blocking(
            lambda: summarize_sync(working_dir, self._excluded_files(working_dir)),
            timeout_s=SYNC_SUMMARY_TIMEOUT_S,
            what="Listing the files to sync",
        )
        return replace(plan, sync=sync)

    async def launch(self, plan: LauncherPlan, record: JobRecord) -> Observation:
        """Start ``up`` in the background and answer at once: the job is launching."""
        runtime = self._runtimes.create(record.job_id)
        job_config = dict(plan.job_config)
        runtime.launch_task = asyncio.ensure_future(self._launch(record, job_config, runtime))
        return Observation(
            JobState.LAUNCHING, f"oumi.launcher is starting the job on {record.cloud}."
        )

    async def _launch(
        self, record: JobRecord, job_config: dict[str, object], runtime: JobRuntime
    ) -> None:
        try:
            job = await run_blocking(
                lambda: up_and_settle(
                    self._engine(),
                    self._registry,
                    record,
                    job_config,
                    runtime,
                    self._server_started,
                    self._cancel_now,
                ),
                timeout_s=self.limits.up_s,
                what=f"oumi.launcher up on {record.cloud}",
                next_step="The launch keeps running; get_job_status shows when it has a job id.",
            )
            logger.info(
                "Job %s launched: %s/%s job %s", record.job_id, record.cloud, job.cluster, job.id
            )
        except asyncio.CancelledError:
            logger.info("Job %s: launch cancelled; the launch thread settles it", record.job_id)
        except Exception as exc:  # recorded in the run dir by the launch thread
            logger.warning("Job %s: launch failed: %s", record.job_id, exc)
        finally:
            self.listings.invalidate(record.cloud)
            self._runtimes.evict_runtime(record.job_id)

    def _cancel_now(self, engine: LauncherEngine, record: JobRecord) -> list[str]:
        """Blocking: the launcher's cancel, then stop what oumi's local cloud leaves behind.

        The status cancel returns is the launcher's word that the job is cancelled; it
        is kept as final (oumi's local cloud later reports the job it killed as failed).
        """
        answer = engine.cancel(record.cloud, record.cluster_name, record.launcher_job_id)
        self.listings.invalidate(record.cloud)
        if launched_as(record, answer):
            self.status.remember(record, observation_of(answer))
        if not kind_of(record.cloud).leaves_processes_here:
            return []
        # The local cloud terminates only the shell it started; the job's own
        # processes carry our job id in their environment.
        return stop_leftovers(record.job_id, self.limits.survivor_grace_s)

    async def close(self) -> None:
        """End the ssh masters oumi opened to Slurm clusters in this process (they outlive
        it by hours); the engine worker ends its own when it leaves."""
        closed = await run_blocking(
            slurm_clusters().close, timeout_s=30.0, what="Closing the Slurm ssh masters"
        )
        if closed:
            logger.info("Closed the ssh masters of %s", ", ".join(closed))

    async def recover(self) -> dict[str, int]:
        return {}  # nothing to repair: the launcher holds the truth, an interrupted up says so

    # -- observe ---------------------------------------------------------------------------

    async def observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        """Live state of each record: one status call per launched job, in parallel."""
        observed = await asyncio.gather(*(self.status.observe(record) for record in records))
        return await self.leftovers.unless_alive(records, observed)

    async def survey(self, records: Sequence[JobRecord], clouds: Sequence[str] = ()) -> Survey:
        """Every asked cloud's listing (in parallel, Slurm cluster by cluster; ``clouds``:
        named by the call, asked too): survey.py."""
        return await survey_records(
            records,
            listings=self.listings,
            status=self.status,
            leftovers=self.leftovers,
            observe=self.observe,
            clouds=clouds,
        )

    async def clusters(
        self, records: Sequence[JobRecord], clouds: Sequence[str] = ()
    ) -> ClusterSurvey:
        """The clusters the asked clouds list (from the same cached listings): survey.py."""
        return await survey_clusters(records, listings=self.listings, clouds=clouds)

    async def warm(self, timeout_s: float) -> list[str]:
        """Fill the listing cache before the first list_jobs: survey.py."""
        records = await registry_ops.call(lambda: self._registry.all(backend=LAUNCHER_BACKEND))
        return await warm_listings(records, listings=self.listings, timeout_s=timeout_s)

    async def lookup(
        self, launcher_job_id: str, cloud: str, cluster_name: str
    ) -> JobRecord | JobStatusReport:
        """A job by its launcher id: our record if we launched it, else its status report."""
        return await look_up_job(self.status, self._registry, launcher_job_id, cloud, cluster_name)

    def forget(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self.status.forget(job_id)
            self.leftovers.forget(job_id)

    # -- cancel ----------------------------------------------------------------------------

    async def cancel(self, record: JobRecord, *, force: bool) -> CancelOutcome:
        if force:
            raise InvalidArgumentError(
                "force",
                FORCE_REFUSED,
                next_step=f"Call cancel_job(job_id='{record.job_id}') without force; if the job "
                "keeps running, stop_cluster or down_cluster ends everything on its cluster.",
            )
        if not record.launcher_job_id:
            record = await run_blocking(
                lambda: launched_identity(record), timeout_s=5.0, what="Reading the launch"
            )
        reported = await self.status.observe(record)
        previous = (await self.leftovers.unless_alive([record], [reported]))[0]
        if is_terminal(previous.state):
            return already_finished(previous)
        if is_terminal(reported.state):  # ended for the launcher; its processes live on
            return await self._stop_survivors(record, previous)
        if not record.launcher_job_id:
            return await self._cancel_launch(record, previous)
        where = f"job {record.launcher_job_id} on {record.cloud}/{record.cluster_name}"
        try:
            signals = await run_blocking(
                lambda: self._cancel_now(self._engine(), record),
                timeout_s=self.limits.cancel_s,
                what=f"oumi.launcher cancel of {where}",
            )
        except EngineTimeoutError:
            raise EngineTimeoutError(
                f"oumi.launcher did not confirm the cancel of {where} within "
                f"{self.limits.cancel_s:g} s. The job may still be running (and billing).",
                next_step=f"Call get_job_status(job_id='{record.job_id}') in a minute; if it is "
                "still running, call cancel_job again, or cancel it with "
                f"`oumi launch cancel --cloud {record.cloud} --cluster {record.cluster_name} "
                f"--id {record.launcher_job_id}`.",
            ) from None
        final = await self._settled(record)
        action: CancelAction = "cancelled" if is_terminal(final.state) else "still_running"
        sent = ["launcher.cancel", *signals]
        return CancelOutcome(action, previous, final, _cancel_message(action, final, sent), sent)

    async def _stop_survivors(self, record: JobRecord, previous: Observation) -> CancelOutcome:
        """Stop the processes a job the launcher reports ended left running."""
        signals = await self.leftovers.stop(record)
        final = (await self.observe([record]))[0]
        action: CancelAction = "cancelled" if is_terminal(final.state) else "still_running"
        return CancelOutcome(
            action, previous, final, leftovers_message(action, final, signals), signals
        )

    async def _cancel_launch(self, record: JobRecord, previous: Observation) -> CancelOutcome:
        """Before up returned: flag it; the launch thread cancels whatever up starts."""
        runtime = self._runtimes.get(record.job_id)
        if runtime is not None:
            runtime.cancel_requested = True
            if runtime.launch_task is not None:
                runtime.launch_task.cancel()  # the thread itself runs on and settles the job
        run = RunDir.of(record)

        def flag_then_reread() -> JobRecord:
            # The launch thread records the job id, then checks the flag; we set the
            # flag, then re-read the id: one of the two always sees the other.
            run.request_cancel(force=False)
            return launched_identity(self._registry.get(record.job_id))

        current = await run_blocking(
            flag_then_reread, timeout_s=self.limits.status_s, what="Recording the cancel"
        )
        if current.launcher_job_id:  # up returned meanwhile: cancel the launcher's job
            return await self.cancel(current, force=False)
        final = await self.status.observe(record)
        return CancelOutcome("cancelled", previous, final, _cancel_message("cancelled", final, []))

    async def _settled(self, record: JobRecord) -> Observation:
        """The launcher's next status, waiting briefly for it to say the job ended."""
        deadline = time.monotonic() + self.limits.cancel_settle_s
        while True:
            observation = await self.status.observe(record)
            if is_terminal(observation.state) or time.monotonic() >= deadline:
                return observation
            await asyncio.sleep(0.5)

    # -- logs ------------------------------------------------------------------------------

    async def logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        """Where its kind keeps them (logs.py): oumi's local cloud's files, a Slurm job's log
        on the cluster, or a snapshot of a cloud cluster's log stream."""
        return await read_job_logs(self._engine, self.limits, record, streams, lines, offset)

    async def release_cluster(self, record: JobRecord, how: Literal["stop", "down"]) -> str:
        """Stop or delete the job's cluster (a guard tripped, and the server launched it)."""
        cloud, cluster = record.cloud, record.cluster_name
        engine = self._engine()
        act = engine.stop if how == "stop" else engine.down
        await run_blocking(
            lambda: act(cloud, cluster),
            timeout_s=self.limits.cancel_s + 60.0,
            what=f"{'Stopping' if how == 'stop' else 'Deleting'} cluster {cluster}",
        )
        return f"{'stopped' if how == 'stop' else 'deleted (down)'} cluster {cluster} on {cloud}"

    async def newest_checkpoint(self, record: JobRecord) -> str | None:
        """Where the job's newest complete checkpoint is, for a restart to resume from:
        oumi's local cloud ran in the working dir here; a Slurm job in its own remote folder
        (one bounded ssh call); elsewhere it cannot be seen from here (None)."""
        source = kind_of(record.cloud).checkpoints
        if not record.output_dir or source == "not_from_here":
            return None
        if source == "working_dir":
            folder = Path(record.client_cwd) / record.output_dir
            found = await run_blocking(
                lambda: newest_checkpoint(folder),
                timeout_s=self.limits.status_s,
                what="Reading checkpoints",
            )
            return str(found) if found is not None else None
        return await run_blocking(
            lambda: newest_remote_checkpoint(
                record.cluster_name,
                record.launcher_job_id,
                record.output_dir,
                timeout_s=self.limits.status_s,
            ),
            timeout_s=self.limits.status_s + 5,
            what=f"Looking for checkpoints on {record.cluster_name}",
        )

    async def failure_output(self, record: JobRecord, lines: int) -> dict[str, list[str]]:
        """oumi's local cloud: its log files; a Slurm job: its log's tail (one bounded ssh
        call); a cloud VM's stream is not read here."""
        if not kind_of(record.cloud).failure_tails:
            return {}
        reads = await self.logs(record, ("stderr", "stdout"), lines=lines, offset=None)
        # A cluster's one log holds both streams: it is shown as the output tail.
        return {
            "stdout" if read.stream == STREAM_NAME else read.stream: read.page.text.splitlines()
            for read in reads
        }


def _cancel_message(action: str, final: Observation, sent: list[str]) -> str:
    state = final.state.value
    if not sent:
        return (
            "Cancelled before oumi.launcher returned a job id: if the launch still starts a "
            f"job, it is cancelled the moment the launch returns. State: {state}."
        )
    leftovers = [signal for signal in sent if signal != "launcher.cancel"]
    extra = f" Stopped processes it left behind ({' then '.join(leftovers)})." if leftovers else ""
    if action == "cancelled":
        return f"oumi.launcher cancelled the job; it now reports {state}.{extra}"
    return (
        f"oumi.launcher accepted the cancel but still reports the job as {state}.{extra} "
        "Call get_job_status in a minute; call cancel_job again if it keeps running."
    )
