"""The live state of one launcher job: its launch until up returns, then oumi.launcher's status.

A terminal state seen once is remembered, because it never changes (and oumi's
local cloud can report a cancelled job as failed a moment later). One status
call is in flight per job, so polling a hanging cloud adds no threads.
"""

from __future__ import annotations

from collections.abc import Callable

from oumi_mcp_server.blocking import KeyedSingleFlight, run_blocking
from oumi_mcp_server.errors import EngineTimeoutError
from oumi_mcp_server.jobs.backend import FinalStates, Observation
from oumi_mcp_server.jobs.launcher.engine import LauncherEngine, LauncherJob
from oumi_mcp_server.jobs.launcher.identity import launched_as, observation_of, with_launch_result
from oumi_mcp_server.jobs.launcher.launch import before_launch, read_launch_files
from oumi_mcp_server.jobs.launcher.listing import CloudListing
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.settings import LauncherLimits


class LauncherStatus:
    def __init__(
        self,
        engine: Callable[[], LauncherEngine],
        runtimes: RuntimeTable,
        limits: LauncherLimits,
    ) -> None:
        self._engine = engine
        self._runtimes = runtimes
        self._limits = limits
        self._final = FinalStates()
        self._statuses: KeyedSingleFlight[tuple[str, str, str], list[LauncherJob]] = (
            KeyedSingleFlight()
        )

    async def find_jobs(self, cloud: str, cluster: str, launcher_job_id: str) -> list[LauncherJob]:
        """The launcher's jobs with this id on ``cloud`` (and ``cluster``, if given)."""
        return await self._statuses.run(
            (cloud, cluster, launcher_job_id),
            lambda: self._engine().status(cloud, cluster or None, launcher_job_id),
            timeout_s=self._limits.status_s,
            what=f"oumi.launcher status on {cloud}",
            next_step="Call again in a minute; `sky status` shows whether SkyPilot is healthy.",
        )

    async def observe(self, record: JobRecord) -> Observation:
        final = self._final.get(record.attempt_key)
        if final is not None:
            return final
        if record.launcher_job_id:
            return self.remember(record, await self._status(record))
        files = await run_blocking(
            lambda: read_launch_files(record),
            timeout_s=self._limits.status_s,
            what="Reading the launch's files",
        )
        observation = before_launch(record, files, self._runtimes.get(record.job_id))
        if observation is None:  # launched; the registry missed it
            result = files[1] or {}
            return self.remember(record, await self._status(with_launch_result(record, result)))
        # A cancel before up returned is final only once the launcher confirms it.
        if observation.state is JobState.CANCELLED:
            return observation
        return self.remember(record, observation)

    def remember(self, record: JobRecord, observation: Observation) -> Observation:
        if is_terminal(observation.state):
            self._final.put(record.attempt_key, observation)
        return observation

    def forget(self, job_id: str) -> None:
        self._final.pop(job_id)

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
        final = self._final.get(record.attempt_key)
        if final is not None:
            return final
        if not listing.ok:
            return Observation(JobState.UNKNOWN, f"{record.cloud} did not answer: {listing.error}")
        for job in listing.jobs:
            if launched_as(record, job):
                return self.remember(record, observation_of(job))
        return Observation(
            JobState.UNKNOWN,
            f"oumi.launcher no longer knows job {record.launcher_job_id} on "
            f"{record.cloud}/{record.cluster_name} (the cluster was deleted, or oumi's local "
            "cloud forgot it when the engine worker that ran it exited).",
        )
