"""Fixtures of the cloud job tests: settings listing every fake cloud, the fake, a job_service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs.launcher.cloud.support import (
    FixedPricer,
    RecordingLauncher,
    job_service_for_engine,
)
from tests.launcher_support import FakeLauncher
from tests.project import make_project
from tests.skypilot_support import record_sky_check


@pytest.fixture(scope="module", autouse=True)
def _warm_imports() -> None:
    """Import oumi and SkyPilot once, so no single test pays for the first import."""
    import oumi.core.configs  # noqa: F401
    import sky.data.storage_utils  # noqa: F401


@pytest.fixture(scope="session")
def aws_and_gcp_enabled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SkyPilot folder whose last `sky check` enabled aws and gcp."""
    return record_sky_check(tmp_path_factory.mktemp("home"), ["AWS", "GCP"])


@pytest.fixture
def settings(settings: Settings, aws_and_gcp_enabled: Path) -> Settings:
    """The shared settings, but list_jobs asks the clouds it would by default, and `sky
    check` enabled aws and gcp (with the fake launcher's local cloud: all it knows)."""
    return replace(settings, listed_clouds=None, skypilot_dir=aws_and_gcp_enabled)


@pytest.fixture
def engine() -> RecordingLauncher:
    return RecordingLauncher()


@pytest.fixture
async def job_service(settings: Settings, engine: FakeLauncher) -> AsyncIterator[JobService]:
    jobs = job_service_for_engine(settings, engine)
    try:
        yield jobs
    finally:
        if engine.up_gate is not None:
            engine.up_gate.set()  # never leave a launch thread waiting
        await jobs.close()


@pytest.fixture
async def priced(settings: Settings, engine: RecordingLauncher) -> AsyncIterator[JobService]:
    """A job_service whose pricer asks $10 an hour for any accelerator."""
    jobs = job_service_for_engine(settings, engine, pricer=FixedPricer(10.0))
    try:
        yield jobs
    finally:
        await jobs.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
