"""A preempted spot job on a SkyPilot cloud runs until done: relaunched on the same cloud
with the same resources, one job id (the real JobService; the fake launcher)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.service import JobService
from tests.jobs.launcher.cloud.support import CONFIG, RecordingLauncher, launch_on_gcp, until

pytestmark = pytest.mark.anyio


async def test_the_dry_run_warns_that_a_cloud_vm_restart_may_start_over(
    job_service: JobService, project: Path
) -> None:
    dry = await job_service.run(CONFIG, "train", str(project), cloud="gcp", max_restarts=2)
    assert dry.restarts is not None and dry.restarts.max_restarts == 2
    assert "storage mount" in dry.restarts.warning
    assert "time_limit" in dry.restarts.restart_on and "preempted" in dry.restarts.restart_on


async def test_a_preempted_spot_job_is_relaunched_with_the_same_resources(
    job_service: JobService, project: Path, engine: RecordingLauncher
) -> None:
    record = await launch_on_gcp(
        job_service,
        project,
        max_restarts=1,
        resources=CloudResources(accelerators="A100:1", use_spot=True),
    )
    engine.set_status("gcp", record.launcher_job_id, "PREEMPTED", "failed", True)
    assert await job_service.drive_restarts(now=time.time()) == []  # decided
    status = await job_service.status(record.job_id)
    assert status.state == "queued", status
    assert [attempt.cause for attempt in status.attempts] == ["preempted"]
    assert status.attempts[0].engine_job_id == record.launcher_job_id

    assert await job_service.drive_restarts(now=time.time() + 1000) == [record.job_id]
    assert await until(lambda: not job_service.runtimes), "the relaunch never settled"
    first, second = engine.job_configs
    assert second["resources"] == first["resources"]
    assert second["resources"]["use_spot"] is True
    assert "training.try_resume_from_last_checkpoint=true" in second["run"]
    status = await job_service.status(record.job_id)
    assert status.job_id == record.job_id and [a.attempt for a in status.attempts] == [1, 2]
    assert status.launcher_job_id != record.launcher_job_id  # another engine job

    # The second attempt is preempted too: max_restarts=1 is used up.
    engine.set_status("gcp", status.launcher_job_id, "PREEMPTED", "failed", True)
    assert await job_service.drive_restarts(now=time.time() + 2000) == []
    status = await job_service.status(record.job_id)
    assert status.state == "failed" and status.terminal
    assert status.restarts is not None
    assert status.restarts.next_action == "gave up: max_restarts reached (1)"
    assert len(engine.job_configs) == 2
