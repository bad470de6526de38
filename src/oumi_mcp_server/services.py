"""The domain services one server process shares across its tools."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from oumi_mcp_server.engines import load
from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.launcher.clusters import ClusterService
from oumi_mcp_server.launcher.engine import LauncherEngine, OumiLauncherEngine
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import CLOUD_CHECK_CACHE_S, WARMUP_DELAY_S, Settings
from oumi_mcp_server.validation.engine import warm_up_oumi
from oumi_mcp_server.validation.service import ValidationService
from oumi_mcp_server.warmup import Warmup

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.backends.local import LocalBackend


def warm_up_engines() -> None:
    """Import oumi's config classes (validation), then oumi.launcher (list_jobs, clouds)."""
    warm_up_oumi()
    load("oumi.launcher")


@dataclass
class Services:
    settings: Settings
    cloud_checker: CloudChecker
    library: LibraryService
    validation: ValidationService
    preflight: PreflightService
    warmup: Warmup
    jobs: JobService
    clusters: ClusterService
    started_at: float = field(default_factory=time.time)

    @classmethod
    def create(
        cls,
        settings: Settings,
        *,
        cloud_checker: CloudChecker | None = None,
        library: LibraryService | None = None,
        local_jobs: LocalBackend | None = None,
        launcher: LauncherEngine | None = None,
    ) -> Services:
        cloud_checker = cloud_checker or CloudChecker(
            timeout_s=settings.cloud_check_timeout_s, cache_s=CLOUD_CHECK_CACHE_S
        )
        library = library or LibraryService(settings)
        validation = ValidationService(timeout_s=settings.validation_timeout_s)
        preflight = PreflightService(settings, cloud_checker=cloud_checker, library=library)
        engine: Callable[[], LauncherEngine] = (
            (lambda: launcher) if launcher is not None else OumiLauncherEngine
        )
        return cls(
            settings=settings,
            cloud_checker=cloud_checker,
            library=library,
            validation=validation,
            preflight=preflight,
            warmup=Warmup(warm_up_engines, enabled=settings.warmup, delay_s=WARMUP_DELAY_S),
            jobs=JobService(
                settings,
                validation=validation,
                preflight=preflight,
                local=local_jobs,
                launcher=engine,
            ),
            clusters=ClusterService(engine, timeout_s=settings.cluster_timeout_s),
        )
