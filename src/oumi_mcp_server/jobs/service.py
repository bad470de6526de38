"""JobService: the one API the job tools call.

A thin front over ``JobManager`` (manager.py: registry, backends, runtimes),
which loads on first use in a worker thread: building the server costs
nothing, and the server's lifespan loads it in the background to reconcile
jobs left by earlier server processes and to sweep stale runtimes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs.models import (
    CancelResult,
    JobList,
    JobLogs,
    JobStatusReport,
    RunJobResult,
)
from oumi_mcp_server.settings import JOB_START_DELAY_S, Settings

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.backends.local import LocalBackend
    from oumi_mcp_server.jobs.cloud_plan import CloudResources
    from oumi_mcp_server.jobs.manager import JobManager
    from oumi_mcp_server.launcher.engine import LauncherEngine
    from oumi_mcp_server.preflight.service import PreflightService
    from oumi_mcp_server.validation.service import ValidationService

LOAD_TIMEOUT_S = 60.0


class JobService:
    def __init__(
        self,
        settings: Settings,
        *,
        validation: ValidationService,
        preflight: PreflightService,
        local: LocalBackend | None = None,
        launcher: Callable[[], LauncherEngine] | None = None,
    ) -> None:
        self._settings = settings
        self._validation = validation
        self._preflight = preflight
        self._local = local
        self._launcher = launcher
        self._manager: JobManager | None = None
        self._lock = threading.Lock()
        self._starter: asyncio.Task[None] | None = None

    def _load(self) -> JobManager:
        with self._lock:
            if self._manager is None:
                from oumi_mcp_server.jobs.manager import JobManager
                from oumi_mcp_server.launcher.engine import OumiLauncherEngine

                self._manager = JobManager(
                    self._settings,
                    validation=self._validation,
                    preflight=self._preflight,
                    local=self._local,
                    launcher=self._launcher or OumiLauncherEngine,
                )
            return self._manager

    async def manager(self) -> JobManager:
        if self._manager is not None:
            return self._manager
        return await run_blocking(
            self._load, timeout_s=LOAD_TIMEOUT_S, what="Loading the job control plane"
        )

    def start(self) -> None:
        """Load, reconcile unfinished local jobs, then sweep periodically (in the background)."""
        if self._starter is None:
            self._starter = asyncio.get_running_loop().create_task(self._start())

    async def _start(self) -> None:
        # Let the client's handshake be answered before the job modules load
        # and reconciliation reads the registry; any job call loads them at once.
        await asyncio.sleep(JOB_START_DELAY_S)
        (await self.manager()).start()

    async def close(self) -> None:
        if self._starter is not None:
            self._starter.cancel()
            await asyncio.gather(self._starter, return_exceptions=True)
            self._starter = None
        if self._manager is not None:
            await self._manager.close()

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
        return await (await self.manager()).run(
            config_path,
            command,
            client_cwd,
            dry_run=dry_run,
            job_name=job_name,
            cloud=cloud,
            cluster_name=cluster_name,
            envs=envs,
            overrides=overrides,
            resources=resources,
        )

    async def status(self, job_id: str, cloud: str = "", cluster_name: str = "") -> JobStatusReport:
        return await (await self.manager()).status(job_id, cloud, cluster_name)

    async def list_jobs(self, status: str = "all", limit: int = 50) -> JobList:
        return await (await self.manager()).list_jobs(status, limit)

    async def logs(
        self, job_id: str, lines: int = 200, stream: str = "both", offset: int | None = None
    ) -> JobLogs:
        return await (await self.manager()).logs(job_id, lines, stream, offset)

    async def cancel(self, job_id: str, force: bool = False) -> CancelResult:
        return await (await self.manager()).cancel(job_id, force)
