"""Diagnosing a cloud job: its log as oumi.launcher reads it, and the launcher's own status."""

from __future__ import annotations

from pathlib import Path

import pytest

from oumi_mcp_server.jobs.service import JobService
from tests.jobs.launcher.cloud.support import launch_on_gcp
from tests.launcher_support import FakeLauncher

pytestmark = pytest.mark.anyio

OOM_LOG = (
    "(task, pid=2211) [2025-03-02 10:51:12,004][oumi][rank0][pid:2211][MainThread][INFO]] "
    "Training started\n"
    "(task, pid=2211) Traceback (most recent call last):\n"
    "(task, pid=2211) torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. "
    "GPU 0 has a total capacity of 39.39 GiB of which 1.05 GiB is free.\n"
)


async def test_a_failed_cloud_job_is_diagnosed_from_the_log_its_engine_reads(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    record = await launch_on_gcp(job_service, project)
    engine.logs_text = OOM_LOG
    engine.set_status("gcp", record.launcher_job_id, "FAILED", "failed", True)

    status = await job_service.status(record.job_id)
    assert status.state == "failed"
    assert status.cause == ""  # a cluster's logs are read only by diagnose_job
    logs_before = len(engine.calls_named("logs"))

    answer = await job_service.diagnose(record.job_id)
    assert answer.cause == "gpu_oom" and answer.state == "failed"
    assert len(engine.calls_named("logs")) == logs_before + 1
    assert answer.fix.config_patch == {
        "training.per_device_train_batch_size": 4,  # Oumi's default 8, halved
        "training.gradient_accumulation_steps": 2,
    }
    assert answer.fix.resume_from is None  # the output dir is on the cluster

    again = await job_service.diagnose(record.job_id)
    assert again.cached and again.cause == "gpu_oom"
    assert len(engine.calls_named("logs")) == logs_before + 1  # kept: the cloud not asked
    assert (await job_service.status(record.job_id)).cause == "gpu_oom"
    rows = (await job_service.list_jobs()).jobs
    assert next(row for row in rows if row.job_id == record.job_id).cause == "gpu_oom"


async def test_the_launchers_own_status_names_the_cause(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    record = await launch_on_gcp(job_service, project)
    engine.logs_text = ""
    engine.set_status("gcp", record.launcher_job_id, "FAILED_NO_RESOURCE", "failed", True)
    answer = await job_service.diagnose(record.job_id)
    assert answer.cause == "no_capacity"
    assert any(item.source == "engine" for item in answer.evidence)


async def test_a_relaunch_goes_to_the_same_cloud_and_cluster(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    record = await launch_on_gcp(job_service, project, cluster_name="my-cluster")
    engine.logs_text = OOM_LOG
    engine.set_status("gcp", record.launcher_job_id, "FAILED", "failed", True)
    answer = await job_service.relaunch(record.job_id)
    assert answer.dry_run and answer.run is not None
    assert answer.run.cloud == "gcp" and answer.run.cluster_name == "my-cluster"
    assert answer.run.job_config is not None
    assert "Resource options" in answer.message
    assert not Path(answer.new_config_path).exists()
