"""The composition root: the domain services one server process shares, on the real engines.

The engines (oumi, oumi.launcher, SkyPilot) run in the shared engine worker
(worker/) for a server started from the environment. Tests inject fakes here (a
scripted oumi.launcher, a cloud checker, a registry, or a whole engine set for a
worker served in the test's process), never by patching. The job control plane
is built on first use, in a worker thread, so that its modules stay out of
start-up; the server's lifespan builds it in the background a moment after start.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from oumi_mcp_server.apidocs.service import DocsService
from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.environment.clouds import CloudChecker, recorded_enabled_clouds
from oumi_mcp_server.jobs.launcher.clusters import ClusterService
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.library.sources import library_cache_root
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import (
    CLOUD_CHECK_CACHE_S,
    JOB_START_DELAY_S,
    LISTINGS_WARMUP_TIMEOUT_S,
    WARMUP_DELAY_S,
    LauncherLimits,
    Settings,
)
from oumi_mcp_server.validation.service import ValidationService
from oumi_mcp_server.warmup import Warmup, WarmupState
from oumi_mcp_server.worker.access import (
    EngineAccess,
    in_process,
    worker_in_this_process,
    worker_process,
)

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.launcher.engine import LauncherEngine
    from oumi_mcp_server.jobs.pricing import Pricer
    from oumi_mcp_server.jobs.registry import Registry
    from oumi_mcp_server.jobs.service import JobService
    from oumi_mcp_server.preflight.paths_check import ExcludedFiles
    from oumi_mcp_server.worker.engines import EngineSet

logger = logging.getLogger(__name__)

JOBS_LOAD_TIMEOUT_S = 60.0
SKYPILOT_RECORD_TIMEOUT_S = 5.0  # a local SQLite read of SkyPilot's state file


def config_roots(settings: Settings) -> tuple[Path, ...]:
    """Where configs may be read besides the project: OUMI_MCP_ALLOWED_ROOTS and the
    config library (its override, and the cache it is synced into)."""
    library = (settings.configs_dir,) if settings.configs_dir else ()
    return (*settings.allowed_roots, *library, library_cache_root(settings.cache_dir))


def build_job_service(
    settings: Settings,
    *,
    validation: ValidationService,
    preflight: PreflightService,
    launcher: Callable[[], LauncherEngine],
    registry: Registry | None = None,
    launcher_limits: LauncherLimits | None = None,
    pricer: Pricer | None = None,
    excluded_files: ExcludedFiles | None = None,
) -> JobService:
    """The job control plane: one registry and runtime table, one backend per engine."""
    from oumi_mcp_server.jobs.launcher.backend import LauncherBackend
    from oumi_mcp_server.jobs.pricing import SkyPilotPricer
    from oumi_mcp_server.jobs.process.backend import ProcessBackend
    from oumi_mcp_server.jobs.registry import Registry
    from oumi_mcp_server.jobs.runtime import RuntimeTable
    from oumi_mcp_server.jobs.service import JobService
    from oumi_mcp_server.preflight.paths_check import skypilot_excluded_files

    registry = registry or Registry(settings.state_dir)
    runtimes = RuntimeTable()
    roots = config_roots(settings)
    oumi = settings.oumi_executable
    return JobService(
        settings,
        validation=validation,
        preflight=preflight,
        config_roots=roots,
        registry=registry,
        runtimes=runtimes,
        process=ProcessBackend(
            registry,
            runtimes,
            state_dir=settings.state_dir,
            oumi_executable=str(oumi) if oumi else None,
            cancel_grace_s=settings.job_cancel_grace_s,
        ),
        launcher=LauncherBackend(
            launcher,
            registry,
            runtimes,
            state_dir=settings.state_dir,
            limits=launcher_limits or settings.launcher_limits(),
            listed_clouds=settings.listed_clouds,
            readable_roots=roots,
            slurm_setup=settings.slurm_setup,
            skypilot_dir=settings.skypilot_dir,
            excluded_files=excluded_files or skypilot_excluded_files,
        ),
        pricer=pricer if pricer is not None else SkyPilotPricer(),
    )


@dataclass
class Services:
    settings: Settings
    cloud_checker: CloudChecker
    library: LibraryService
    validation: ValidationService
    preflight: PreflightService
    warmup: Warmup
    clusters: ClusterService
    launcher: Callable[[], LauncherEngine]
    docs: DocsService
    engines: EngineAccess
    started_at: float = field(default_factory=time.time)
    _jobs: JobService | None = field(default=None, init=False)
    _jobs_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _jobs_starter: asyncio.Task[None] | None = field(default=None, init=False)
    # The clouds list_jobs asks, listed once after the handshake (see start_warmup).
    listings_warmup: WarmupState = field(
        default_factory=lambda: WarmupState(state="idle"), init=False
    )
    _listings_warmer: asyncio.Task[None] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if not self.settings.warmup:
            self.listings_warmup = WarmupState(state="disabled")

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        cloud_checker: CloudChecker | None = None,
        library: LibraryService | None = None,
        launcher: LauncherEngine | None = None,
        worker_engines: EngineSet | None = None,
    ) -> Services:
        """``launcher``: a fake oumi.launcher called in this process; ``worker_engines``:
        a whole engine set served by a worker in this process (the real socket and wire).
        Neither: the engine worker, or this process when settings.engine_worker is off."""
        if worker_engines is not None:
            engines = worker_in_this_process(settings, worker_engines)
        elif launcher is not None or not settings.engine_worker:
            engines = in_process(launcher)
        else:
            engines = worker_process(settings)
        # Pre-flight reads SkyPilot's record of its last `sky check` (nothing starts);
        # check_environment(check_clouds=true) runs one. Tests inject one checker for both.
        preflight_checker = cloud_checker or CloudChecker(
            lambda: recorded_enabled_clouds(settings.skypilot_dir),
            timeout_s=SKYPILOT_RECORD_TIMEOUT_S,
            cache_s=0.0,
        )
        cloud_checker = cloud_checker or CloudChecker(
            engines.enabled_clouds,
            timeout_s=settings.cloud_check_timeout_s,
            cache_s=CLOUD_CHECK_CACHE_S,
        )
        library = library or LibraryService(settings)
        roots = config_roots(settings)
        return cls(
            settings=settings,
            cloud_checker=cloud_checker,
            library=library,
            validation=ValidationService(
                timeout_s=settings.validation_timeout_s,
                extra_roots=roots,
                validate=engines.validate,
            ),
            preflight=PreflightService(
                settings,
                cloud_checker=preflight_checker,
                library=library,
                extra_roots=roots,
                excluded_files=engines.excluded_files,
                validate=engines.validate,
            ),
            warmup=Warmup(engines.warm_up, enabled=settings.warmup, delay_s=WARMUP_DELAY_S),
            clusters=ClusterService(engines.launcher, timeout_s=settings.cluster_timeout_s),
            launcher=engines.launcher,
            docs=DocsService(settings.cache_dir, autobuild=settings.docs_autobuild),
            engines=engines,
        )

    async def job_service(self) -> JobService:
        """The job API, built on first use in a worker thread."""
        if self._jobs is None:
            await run_blocking(
                self._build_jobs, timeout_s=JOBS_LOAD_TIMEOUT_S, what="Loading the job service"
            )
        assert self._jobs is not None
        return self._jobs

    def _build_jobs(self) -> None:
        with self._jobs_lock:
            if self._jobs is None:
                self._jobs = build_job_service(
                    self.settings,
                    validation=self.validation,
                    preflight=self.preflight,
                    launcher=self.launcher,
                    pricer=self.engines.pricer,
                    excluded_files=self.engines.excluded_files,
                )

    def start_jobs(self) -> None:
        """In the background, a moment after start (so the client's handshake is answered
        first): build the job service, recover jobs of earlier processes, sweep."""

        async def start() -> None:
            await asyncio.sleep(JOB_START_DELAY_S)
            (await self.job_service()).start()

        if self._jobs_starter is None:
            self._jobs_starter = asyncio.get_running_loop().create_task(start())

    def start_warmup(self) -> None:
        """Once the client has connected (called on the loop; later calls do nothing):
        import oumi and oumi.launcher in a thread, and list the clouds list_jobs will ask
        (SkyPilot's enabled ones: its API server may have to start) in the background,
        within LISTINGS_WARMUP_TIMEOUT_S, so that no client call waits for either."""
        if self.warmup.start() and self._listings_warmer is None:
            self._listings_warmer = asyncio.get_running_loop().create_task(self._warm_listings())

    async def _warm_listings(self) -> None:
        await asyncio.sleep(WARMUP_DELAY_S)  # the client's first requests come first
        self.listings_warmup = WarmupState(state="running")
        started = time.monotonic()
        try:
            jobs = await self.job_service()
            listed = await jobs.warm_listings(LISTINGS_WARMUP_TIMEOUT_S)
        except Exception as exc:  # best effort: list_jobs asks for itself
            logger.warning("Listing the clouds in the background failed: %s", exc)
            self.listings_warmup = WarmupState(
                state="failed", seconds=round(time.monotonic() - started, 2), error=str(exc)
            )
            return
        seconds = round(time.monotonic() - started, 2)
        self.listings_warmup = WarmupState(state="done", seconds=seconds, listed=listed)
        if listed:
            logger.info("Listed %s in the background in %.1f s", ", ".join(listed), seconds)

    async def close_jobs(self) -> None:
        for task in (self._jobs_starter, self._listings_warmer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._jobs_starter = self._listings_warmer = None
        if self._jobs is not None:
            await self._jobs.close()
