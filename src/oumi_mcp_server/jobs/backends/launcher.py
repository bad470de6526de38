"""Launcher jobs: oumi.launcher (SkyPilot clouds, Kubernetes, Slurm/HPC, its local cloud).

The launcher is the source of truth. Until ``launcher.up`` returns a job id,
the state comes from the launch itself (in flight here, in flight in another
server process, failed with its error, or cancelled before it returned);
afterwards only from ``launcher.status``. A terminal state seen once is
remembered, because it never changes (and oumi's local cloud can report a
cancelled job as failed a moment later).

``up`` runs in a worker thread that settles the job itself: it records the
launcher's job id, and if a cancel was requested meanwhile it cancels the
launcher job at once, so nothing is left running even when the task waiting
for it was cancelled or timed out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from oumi_mcp_server.blocking import KeyedSingleFlight, run_blocking
from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError
from oumi_mcp_server.jobs.backends.base import CancelOutcome, LaunchSpec, LogRead, Observation
from oumi_mcp_server.jobs.backends.launcher_identity import (
    launched_as,
    launched_identity,
    observation_of,
    with_launch_result,
)
from oumi_mcp_server.jobs.backends.launcher_listing import CloudListing, CloudListings
from oumi_mcp_server.jobs.backends.launcher_logs import local_cloud_logs, stream_snapshot
from oumi_mcp_server.jobs.backends.local import FinalStates
from oumi_mcp_server.jobs.process import (
    is_our_process,
    process_start_time,
    processes_with_env,
    stop_processes,
)
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import JobRuntime
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.launcher.engine import LauncherEngine, LauncherJob
from oumi_mcp_server.launcher.jobspec import JOB_MARKER_ENV, LOCAL_CLOUD

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LauncherLimits:
    up_s: float = 3600.0  # provisioning a cloud VM can take many minutes
    status_s: float = 20.0  # one job's status
    list_s: float = 10.0  # one cloud's listing
    list_cache_s: float = 5.0
    load_s: float = 30.0  # importing oumi.launcher the first time
    cancel_s: float = 60.0
    cancel_settle_s: float = 10.0  # how long to wait for the launcher to say "cancelled"
    logs_s: float = 10.0
    logs_bytes: int = 16 * 1024 * 1024
    survivor_grace_s: float = 5.0


class LauncherBackend:
    def __init__(
        self,
        engine: Callable[[], LauncherEngine],
        registry: Registry,
        *,
        limits: LauncherLimits | None = None,
        listed_clouds: Sequence[str] | None = None,
    ) -> None:
        self._engine = engine
        self._registry = registry
        self.limits = limits or LauncherLimits()
        self.listings = CloudListings(
            engine,
            timeout_s=self.limits.list_s,
            cache_s=self.limits.list_cache_s,
            clouds_timeout_s=self.limits.load_s,
            only=listed_clouds,
        )
        self._final = FinalStates()
        # One status call in flight per job: polling a hanging cloud adds no threads.
        self._statuses: KeyedSingleFlight[tuple[str, str, str], list[LauncherJob]] = (
            KeyedSingleFlight()
        )
        self._server_started = process_start_time(os.getpid())

    def handles(self, cloud: str) -> bool:
        return bool(cloud)

    async def find_jobs(self, cloud: str, cluster: str, launcher_job_id: str) -> list[LauncherJob]:
        """The launcher's jobs with this id on ``cloud`` (and ``cluster``, if given)."""
        return await self._statuses.run(
            (cloud, cluster, launcher_job_id),
            lambda: self._engine().status(cloud, cluster or None, launcher_job_id),
            timeout_s=self.limits.status_s,
            what=f"oumi.launcher status on {cloud}",
            next_step="Call again in a minute; `sky status` shows whether SkyPilot is healthy.",
        )

    # -- launch --------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec, runtime: JobRuntime) -> JobRecord:
        """Run ``launcher.up`` (in a worker thread that settles the job itself)."""
        record = spec.record
        if spec.job_config is None:
            raise InvalidArgumentError("config_path", "a launcher job needs a job config.")
        job_config = dict(spec.job_config)
        try:
            job = await run_blocking(
                lambda: self._up_and_settle(record, job_config, runtime),
                timeout_s=self.limits.up_s,
                what=f"oumi.launcher up on {record.cloud}",
                next_step="The launch keeps running; get_job_status shows when it has a job id.",
            )
        finally:
            self.listings.invalidate(record.cloud)
        return self._with_identity(record, job)

    def _up_and_settle(
        self, record: JobRecord, job_config: dict[str, object], runtime: JobRuntime
    ) -> LauncherJob:
        """Blocking: up, record the identity, and honour a cancel that came meanwhile."""
        run = RunDir(Path(record.run_dir))
        run.mark_launching(os.getpid(), self._server_started)
        engine = self._engine()
        try:
            job = engine.up(job_config, record.cluster_name or None)
        except BaseException as exc:
            run.record_launch_result({"error": f"{type(exc).__name__}: {exc}"})
            raise
        # The run dir keeps the identity too, should the registry be busy right now.
        run.record_launch_result({"launcher_job_id": job.id, "cluster_name": job.cluster})
        try:
            self._registry.set_launcher_identity(record.job_id, job.cluster, job.id)
        except Exception:  # the run dir has it: status and cancel read it from there
            logger.exception("Recording the launcher identity of job %s", record.job_id)
        if runtime.cancel_requested or run.read_cancel() is not None:
            try:
                self._cancel_now(engine, self._with_identity(record, job))
            except Exception:  # the job keeps running: its status says so; cancel_job retries
                logger.exception("Cancelling job %s after its launch failed", record.job_id)
        return job

    def _with_identity(self, record: JobRecord, job: LauncherJob) -> JobRecord:
        return replace(record, cluster_name=job.cluster, launcher_job_id=job.id)

    def _cancel_now(self, engine: LauncherEngine, record: JobRecord) -> list[str]:
        """Blocking: the launcher's cancel, then stop what oumi's local cloud leaves behind.

        The status cancel returns is the launcher's word that the job is cancelled; it
        is kept as final (oumi's local cloud later reports the job it killed as failed).
        """
        answer = engine.cancel(record.cloud, record.cluster_name, record.launcher_job_id)
        self.listings.invalidate(record.cloud)
        if launched_as(record, answer):
            self._remember(record, observation_of(answer))
        if record.cloud != LOCAL_CLOUD:
            return []
        # The local cloud terminates only the shell it started; the job's own
        # processes carry our job id in their environment.
        survivors = processes_with_env(JOB_MARKER_ENV, record.job_id)
        return stop_processes(survivors, self.limits.survivor_grace_s)

    # -- observe ---------------------------------------------------------------------

    async def observe(
        self,
        records: Sequence[JobRecord],
        *,
        launching: frozenset[str] = frozenset(),
        runtimes: Callable[[str], JobRuntime | None] = lambda _id: None,
    ) -> list[Observation]:
        """Live state of each record: one status call per launched job, in parallel."""
        return list(
            await asyncio.gather(*(self._observe_one(r, runtimes(r.job_id)) for r in records))
        )

    async def _observe_one(self, record: JobRecord, runtime: JobRuntime | None) -> Observation:
        final = self._final.get(record.job_id)
        if final is not None:
            return final
        if record.launcher_job_id:
            return self._remember(record, await self._status(record))
        observation = await self._before_launch(record, runtime)
        # A cancel before up returned is final only once the launcher confirms it.
        return (
            observation
            if observation.state is JobState.CANCELLED
            else self._remember(record, observation)
        )

    def _remember(self, record: JobRecord, observation: Observation) -> Observation:
        if is_terminal(observation.state):
            self._final.put(record.job_id, observation)
        return observation

    async def _status(self, record: JobRecord) -> Observation:
        try:
            jobs = await self.find_jobs(record.cloud, record.cluster_name, record.launcher_job_id)
        except EngineTimeoutError as exc:
            return Observation(JobState.UNKNOWN, f"{exc.message} Call again in a minute.")
        except Exception as exc:  # a cloud's error is this job's answer, not a crash
            return Observation(JobState.UNKNOWN, f"oumi.launcher could not read the status: {exc}")
        return self.from_listing(record, CloudListing(record.cloud, jobs))

    def from_listing(self, record: JobRecord, listing: CloudListing) -> Observation:
        """A launched record's state from its cloud's listing (remembering terminal states)."""
        final = self._final.get(record.job_id)
        if final is not None:
            return final
        if not listing.ok:
            return Observation(JobState.UNKNOWN, f"{record.cloud} did not answer: {listing.error}")
        for job in listing.jobs:
            if launched_as(record, job):
                return self._remember(record, observation_of(job))
        return Observation(
            JobState.UNKNOWN,
            f"oumi.launcher no longer knows job {record.launcher_job_id} on "
            f"{record.cloud}/{record.cluster_name} (the cluster was deleted, or oumi's local "
            "cloud forgot it when its server process exited).",
        )

    async def _before_launch(self, record: JobRecord, runtime: JobRuntime | None) -> Observation:
        run = RunDir(Path(record.run_dir))
        launching, result, cancel = await run_blocking(
            lambda: (run.read_launching(), run.read_launch_result(), run.read_cancel()),
            timeout_s=self.limits.status_s,
            what="Reading the launch's files",
        )
        if result and result.get("error"):
            return Observation(JobState.FAILED, f"launch failed: {result['error']}")
        if result and result.get("launcher_job_id"):  # launched; the registry missed it
            return await self._status(with_launch_result(record, result))
        task = runtime.launch_task if runtime is not None else None
        in_flight = task is not None and not task.done()
        if cancel is not None or (runtime is not None and runtime.cancel_requested):
            return Observation(
                JobState.CANCELLED,
                "cancelled before oumi.launcher returned a job id; if it still starts one, "
                "that job is cancelled the moment up returns.",
            )
        if in_flight or self._owner_alive(launching):
            return Observation(
                JobState.LAUNCHING,
                f"oumi.launcher is starting the job on {record.cloud} (a cloud VM takes minutes).",
            )
        return Observation(
            JobState.UNKNOWN,
            "the launch was interrupted: the server stopped before oumi.launcher returned a "
            "job id. The job may still exist; list_jobs shows every job the launcher knows.",
        )

    @staticmethod
    def _owner_alive(launching: dict[str, object] | None) -> bool:
        if not launching:
            return False
        pid, started = launching.get("server_pid"), launching.get("server_started")
        if not isinstance(pid, int):
            return False
        return is_our_process(pid, started if isinstance(started, float) else None, "")

    def forget(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self._final.pop(job_id)

    # -- cancel ------------------------------------------------------------------------

    async def cancel(
        self, record: JobRecord, *, force: bool, runtime: JobRuntime | None
    ) -> CancelOutcome:
        if not record.launcher_job_id:
            record = await run_blocking(
                lambda: launched_identity(record), timeout_s=5.0, what="Reading the launch"
            )
        previous = await self._observe_one(record, runtime)
        if is_terminal(previous.state):
            return CancelOutcome("already_finished", previous, previous)
        if not record.launcher_job_id:
            return await self._cancel_launch(record, previous, runtime)
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
        action = "cancelled" if is_terminal(final.state) else "still_running"
        return CancelOutcome(action, previous, final, ["launcher.cancel", *signals])

    async def _cancel_launch(
        self, record: JobRecord, previous: Observation, runtime: JobRuntime | None
    ) -> CancelOutcome:
        """Before up returned: flag it; the launch thread cancels whatever up starts."""
        if runtime is not None:
            runtime.cancel_requested = True
            if runtime.launch_task is not None:
                runtime.launch_task.cancel()  # the thread itself runs on and settles the job
        run = RunDir(Path(record.run_dir))

        def flag_then_reread() -> JobRecord:
            # The launch thread records the job id, then checks the flag; we set the
            # flag, then re-read the id: one of the two always sees the other.
            run.request_cancel(force=False)
            return launched_identity(self._registry.get(record.job_id))

        current = await run_blocking(
            flag_then_reread, timeout_s=self.limits.status_s, what="Recording the cancel"
        )
        if current.launcher_job_id:  # up returned meanwhile: cancel the launcher's job
            return await self.cancel(current, force=False, runtime=None)
        final = await self._observe_one(record, None)
        return CancelOutcome("cancelled", previous, final, [])

    async def _settled(self, record: JobRecord) -> Observation:
        """The launcher's next status, waiting briefly for it to say the job ended."""
        deadline = time.monotonic() + self.limits.cancel_settle_s
        while True:
            observation = await self._observe_one(record, None)
            if is_terminal(observation.state) or time.monotonic() >= deadline:
                return observation
            await asyncio.sleep(0.5)

    # -- logs ----------------------------------------------------------------------------

    async def read_logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        run = RunDir(Path(record.run_dir))
        if record.cloud == LOCAL_CLOUD:
            return await run_blocking(
                lambda: local_cloud_logs(run, streams, lines, offset),
                timeout_s=self.limits.status_s,
                what="Reading job logs",
            )
        if not record.launcher_job_id:
            return []

        def read() -> LogRead:
            text = self._engine().read_logs(
                record.cloud,
                record.cluster_name,
                record.launcher_job_id,
                max_bytes=self.limits.logs_bytes,
                timeout_s=self.limits.logs_s,
            )
            return stream_snapshot(run, text, lines, offset)

        return [
            await run_blocking(
                read,
                timeout_s=self.limits.logs_s + 5.0,
                what=f"Reading the log stream of {record.cloud}/{record.cluster_name}",
            )
        ]
