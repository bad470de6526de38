"""Shared helpers for the cloud job tests: a fake launcher wired into a JobService."""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.jobs.launcher.engine import LauncherJob
from oumi_mcp_server.jobs.pricing import Pricer, Quote
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.services import Services, build_job_service
from oumi_mcp_server.settings import LauncherLimits, Settings
from tests.launcher_support import FakeCloud, FakeLauncher

CONFIG = "configs/train.yaml"
LIST_S = 0.5
CANCEL_S = 0.5
MARGIN_S = 1.0
LIMITS = LauncherLimits(
    up_s=30.0,
    status_s=2.0,
    list_s=LIST_S,
    list_cache_s=5.0,
    load_s=2.0,
    cancel_s=CANCEL_S,
    cancel_settle_s=1.0,
    logs_s=1.0,
    survivor_grace_s=0.5,
)


def checker() -> CloudChecker:
    """Cloud readiness without `sky check`: gcp and aws are enabled."""
    return CloudChecker(lambda: ["aws", "gcp"], timeout_s=5.0, cache_s=60.0)


def services_for(settings: Settings, engine: FakeLauncher) -> Services:
    return Services.create(settings, cloud_checker=checker(), launcher=engine)


class RecordingLauncher(FakeLauncher):
    """The fake, also keeping each job config handed to ``up``."""

    def __init__(self, clouds: Mapping[str, FakeCloud] | None = None) -> None:
        super().__init__(clouds)
        self.job_configs: list[dict[str, Any]] = []

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        with self.lock:
            self.job_configs.append(copy.deepcopy(dict(job_config)))
        return super().up(job_config, cluster_name)


def job_service_for_engine(
    settings: Settings,
    engine: FakeLauncher,
    limits: LauncherLimits = LIMITS,
    pricer: Pricer | None = None,
) -> JobService:
    services = services_for(settings, engine)
    return build_job_service(
        settings,
        validation=services.validation,
        preflight=services.preflight,
        launcher=lambda: engine,
        launcher_limits=limits,
        pricer=pricer,
    )


class FixedPricer:
    """Prices without SkyPilot: a fixed price per node-hour for any accelerator."""

    def __init__(self, hourly_usd: float) -> None:
        self.hourly_usd = hourly_usd

    def quote(
        self, cloud: str, accelerators: str, *, use_spot: bool, nodes: int, price: float | None
    ) -> Quote:
        hourly = price if price is not None else self.hourly_usd
        return Quote(hourly, instance_type="fake-gpu", region="fake-1", nodes=nodes, source="test")


async def until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def launch_on_gcp(job_service: JobService, project: Path, **arguments: Any) -> JobRecord:
    """Launch on gcp and wait until up returned (the runtime is then evicted)."""
    result = await job_service.run(
        CONFIG, "train", str(project), cloud="gcp", dry_run=False, **arguments
    )
    assert result.launched and result.state == "launching", result.message
    assert await until(lambda: not job_service.runtimes), "the launch never settled"
    return job_service.registry.get(result.job_id)


def status_calls(engine: FakeLauncher) -> int:
    return len(engine.calls_named("status"))


def job_config_data(**changes: object) -> dict[str, object]:
    job: dict[str, object] = {
        "name": "their-name",
        "working_dir": "workdir",
        "resources": {"cloud": "gcp", "accelerators": "A100:1"},
        "envs": {"FOO": "bar"},
        "file_mounts": {"~/data/train.jsonl": "data/train.jsonl"},
        "storage_mounts": {"/bucket": {"source": "gs://my-bucket", "store": "gcs"}},
        "setup": "pip install oumi",
        "run": "oumi train -c configs/train.yaml",
    }
    job.update(changes)
    return job


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return dict(result.structured_content or {})
