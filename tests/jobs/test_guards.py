"""Guards on real process jobs: max_hours, stall and NaN stop the job (and only the job
they name); the spend so far and health warnings show in get_job_status; guards kept
in the registry work in the next server too."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from oumi_mcp_server.jobs.policies.guards import Guards, Progress, check, health, nan_since
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs_support import job_service_for, wait_for_state, with_fake_oumi

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
# A training that logs a few steps, then a NaN loss, then goes quiet (while it runs).
NAN_OUMI = """#!/bin/sh
echo "fake oumi $*"
echo " 10%|#         | 1/10 [00:01<00:09] {'loss': '2.5', 'grad_norm': '1.0'}"
echo " 20%|##        | 2/10 [00:02<00:08] {'loss': 'nan', 'grad_norm': 'nan'}"
sleep "${FAKE_OUMI_SLEEP:-60}"
"""


def test_a_guard_concludes_from_hours_spend_quiet_and_nan() -> None:
    calm = Progress(hours=0.5, spend_usd=5.0, quiet_minutes=1.0, nan_at=None)
    assert check(Guards(max_hours=1, max_cost_usd=10, stall_minutes=5), calm) is None
    over = check(Guards(max_hours=0.5), calm)
    assert over is not None and over.stopped_by == "max_hours"
    spent = check(Guards(max_cost_usd=5), calm)
    assert spent is not None and spent.stopped_by == "max_cost_usd" and "$5.00" in spent.reason
    assert check(Guards(max_cost_usd=5), replace(calm, spend_usd=None)) is None  # no price
    quiet = check(Guards(stall_minutes=1), calm)
    assert quiet is not None and quiet.stopped_by == "stall"
    nan = Progress(0.1, None, 0.0, "step 2")
    tripped = check(Guards(stop_on_nan=True), nan)
    assert tripped is not None and tripped.stopped_by == "nan" and "step 2" in tripped.reason
    assert check(Guards(), nan) is None
    assert health(nan, None) == ["NaN: the loss or grad_norm is NaN/inf since step 2"]
    assert health(Progress(1, None, 20.0, None), None)[0].startswith("stalled")
    assert nan_since(["{'loss': '1.2'}", " 7/9 [00:07] {'loss': 'inf'}"]) == "step 7"
    assert nan_since(["{'loss': 'nan'}"]) == "the log"
    assert nan_since(["{'loss': '0.5', 'grad_norm': '0.9'}", "nan is a word"]) is None
    with pytest.raises(ValidationError):
        Guards.model_validate({"max_hour": 2})  # a misspelt guard is not "no guard"


@pytest.fixture
def job_settings(settings: Settings, tmp_path: Path) -> Settings:
    fake = with_fake_oumi(settings, tmp_path)
    script = tmp_path / "bin" / "nan-oumi"
    script.write_text(NAN_OUMI)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return fake


async def _running(job_service: JobService, project: Path, guards: Guards, **envs: str) -> str:
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        dry_run=False,
        envs={"FAKE_OUMI_SLEEP": "60", **envs},
        guards=guards,
    )
    assert result.launched, result.message
    assert await wait_for_state(job_service, result.job_id, {"running"}, 30.0) == "running"
    return result.job_id


async def test_max_hours_stops_the_job_it_names_and_no_other(
    job_service: JobService, project: Path, job_settings: Settings
) -> None:
    guarded = await _running(job_service, project, Guards(max_hours=0.0003))  # about 1 s
    other = await _running(job_service, project, Guards(max_hours=5))
    unguarded = await _running(job_service, project, Guards())
    await asyncio.sleep(1.5)
    assert await job_service.drive_guards() == [guarded]
    status = await job_service.status(guarded)
    assert status.state == "cancelled" and status.stopped_by == "max_hours", status
    assert "the limit is 0.0003 h" in status.stop_reason
    for job_id in (other, unguarded):
        assert (await job_service.status(job_id)).state == "running"
    assert await job_service.drive_guards() == []  # recorded once: never acted on again
    audit = (job_settings.state_dir / "audit.jsonl").read_text()
    lines = [json.loads(line) for line in audit.splitlines()]
    assert [line["arguments"]["job_id"] for line in lines if line["tool"] == "guard"] == [guarded]
    for job_id in (other, unguarded):
        await job_service.cancel(job_id)


async def test_a_quiet_job_is_stopped_as_stalled_and_the_spend_is_shown(
    job_service: JobService, project: Path
) -> None:
    job_id = await _running(
        job_service, project, Guards(stall_minutes=0.02, price_per_hour_usd=36.0)
    )
    running = await job_service.status(job_id)
    assert running.cost_so_far_usd is not None and running.cost_so_far_usd >= 0
    assert running.guards is not None and running.guards.stall_minutes == 0.02
    listed = await job_service.list_jobs()
    (row,) = [row for row in listed.jobs if row.job_id == job_id]
    assert row.cost_so_far_usd is not None
    await asyncio.sleep(1.6)  # 0.02 min = 1.2 s with no new output
    assert await job_service.drive_guards() == [job_id]
    status = await job_service.status(job_id)
    assert status.state == "cancelled" and status.stopped_by == "stall"
    assert status.cost_so_far_usd is not None and status.cost_so_far_usd > 0.01


async def test_a_nan_loss_shows_as_health_without_guards_and_stops_with_stop_on_nan(
    job_service: JobService, project: Path, job_settings: Settings, tmp_path: Path
) -> None:
    nan_service = await job_service_for(
        replace(job_settings, oumi_executable=tmp_path / "bin" / "nan-oumi")
    )
    try:
        watched = await _running(nan_service, project, Guards())
        stopped = await _running(nan_service, project, Guards(stop_on_nan=True))
        await asyncio.sleep(0.5)
        status = await nan_service.status(watched)
        assert status.state == "running" and status.stopped_by == ""
        assert status.health == ["NaN: the loss or grad_norm is NaN/inf since step 2"]
        assert await nan_service.drive_guards() == [stopped]
        status = await nan_service.status(stopped)
        assert status.state == "cancelled" and status.stopped_by == "nan"
        assert (await nan_service.status(watched)).state == "running"  # warned, not stopped
        await nan_service.cancel(watched)
    finally:
        await nan_service.close()


async def test_guards_kept_in_the_registry_work_in_the_next_server(
    job_settings: Settings, project: Path
) -> None:
    first = await job_service_for(job_settings)
    try:
        job_id = await _running(first, project, Guards(max_hours=0.0003))
    finally:
        await first.close()
    await asyncio.sleep(1.5)
    second = await job_service_for(job_settings)
    try:
        started = time.monotonic()
        assert await second.drive_guards() == [job_id]
        assert time.monotonic() - started < 10
        assert (await second.status(job_id)).stopped_by == "max_hours"
    finally:
        await second.close()
