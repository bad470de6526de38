"""Fixtures of the job tests: settings whose `oumi` is the fake script, the real
JobService on them, and a project with configs/train.yaml. Engine folders that need
another service (a fake launcher, a Slurm setup) define their own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs_support import job_service_for, with_fake_oumi
from tests.project import make_project


@pytest.fixture
def job_settings(settings: Settings, tmp_path: Path) -> Settings:
    return with_fake_oumi(settings, tmp_path)


@pytest.fixture
async def job_service(job_settings: Settings) -> AsyncIterator[JobService]:
    jobs = await job_service_for(job_settings)
    try:
        yield jobs
    finally:
        await jobs.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")
