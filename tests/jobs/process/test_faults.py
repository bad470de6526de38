"""Process jobs under faults, with real processes: a job is over only when its group is.

Each scenario kills part of a running job with SIGKILL (the wrapper only, the
`oumi` process only, the whole group), then asks for the status and cancels:
the state must be the truth, and nothing of the job may be left running.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import live_group_members, processes_with_env
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs_support import job_service_for, wait_for_state, with_fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
LONG_WITH_CHILD = {"FAKE_OUMI_SLEEP": "300", "FAKE_OUMI_CHILD": "1"}


@pytest.fixture
async def job_service(settings: Settings, tmp_path: Path) -> AsyncIterator[JobService]:
    jobs = await job_service_for(with_fake_oumi(settings, tmp_path))
    try:
        yield jobs
    finally:
        await jobs.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


async def _running_job(job_service: JobService, project: Path) -> tuple[str, int]:
    """A job whose group holds the wrapper, the fake oumi and its background child."""
    result = await job_service.run(
        CONFIG, "train", str(project), dry_run=False, envs=LONG_WITH_CHILD
    )
    assert await wait_for_state(job_service, result.job_id, {"running"}) == "running"
    pid = (await job_service.status(result.job_id)).pid
    assert pid is not None
    for _ in range(100):
        if len(live_group_members(pid)) >= 3:
            break
        await asyncio.sleep(0.05)
    assert len(live_group_members(pid)) >= 3
    return result.job_id, pid


def _oumi_pid(wrapper_pid: int) -> int:
    children = psutil.Process(wrapper_pid).children()
    assert len(children) == 1, children
    return children[0].pid


async def _wait_gone(pid: int, timeout_s: float = 10.0) -> None:
    for _ in range(int(timeout_s / 0.05)):
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"process {pid} is still alive")


async def test_a_job_whose_wrapper_was_killed_runs_on_and_cancel_stops_all_of_it(
    job_service: JobService, project: Path
) -> None:
    job_id, pid = await _running_job(job_service, project)
    oumi = _oumi_pid(pid)
    os.kill(pid, signal.SIGKILL)
    await _wait_gone(pid)

    left = len(live_group_members(pid))  # the fake oumi, its sleep and its background child
    assert left == 3
    status = await job_service.status(job_id)
    assert status.state == "running" and not status.terminal
    assert status.reason == (
        f"the job's wrapper (process {pid}) died; 3 processes of the job are still running"
    )
    assert psutil.pid_exists(oumi)

    cancelled = await job_service.cancel(job_id)
    assert cancelled.action == "cancelled" and cancelled.state == "cancelled"
    assert cancelled.previous_state == "running" and cancelled.signals_sent == ["SIGTERM"]
    assert live_group_members(pid) == []
    assert processes_with_env(JOB_MARKER_ENV, job_id) == []
    assert (await job_service.status(job_id)).state == "cancelled"


async def test_when_oumi_itself_is_killed_its_children_do_not_outlive_the_failed_job(
    job_service: JobService, project: Path
) -> None:
    job_id, pid = await _running_job(job_service, project)
    os.kill(_oumi_pid(pid), signal.SIGKILL)

    assert (
        await wait_for_state(job_service, job_id, {"failed", "cancelled", "completed"}) == "failed"
    )
    status = await job_service.status(job_id)
    assert status.reason == "killed by SIGKILL" and status.exit_code == -signal.SIGKILL
    assert live_group_members(pid) == []  # the wrapper stopped the background child
    assert processes_with_env(JOB_MARKER_ENV, job_id) == []
    logs = await job_service.logs(job_id, stream="stderr")
    assert "stopped 2 process(es) the command left running" in logs.chunks[0].text

    again = await job_service.cancel(job_id)
    assert again.action == "already_finished" and again.signals_sent == []


async def test_a_job_killed_as_a_whole_group_is_lost_and_cancel_finds_nothing(
    job_service: JobService, project: Path
) -> None:
    job_id, pid = await _running_job(job_service, project)
    os.killpg(pid, signal.SIGKILL)
    await _wait_gone(pid)
    for _ in range(100):
        if not live_group_members(pid):
            break
        await asyncio.sleep(0.05)

    status = await job_service.status(job_id)
    assert status.state == "failed" and status.reason.startswith("lost:")
    cancelled = await job_service.cancel(job_id)
    assert cancelled.action == "already_finished" and cancelled.signals_sent == []
    assert processes_with_env(JOB_MARKER_ENV, job_id) == []


async def test_a_recorded_exit_is_not_the_end_while_a_process_of_the_group_lives(
    job_service: JobService, project: Path
) -> None:
    """An exit file written by a wrapper that stopped nothing (an older wrapper, or one
    killed while it cleaned up) does not end the job while its group has members."""
    job_id, pid = await _running_job(job_service, project)
    oumi = _oumi_pid(pid)
    os.kill(pid, signal.SIGKILL)
    await _wait_gone(pid)
    run_dir = Path((job_service.registry.get(job_id)).run_dir)
    (run_dir / "exit.json").write_text('{"exit_code": 0, "ended_at": 1.0}')

    status = await job_service.status(job_id)
    assert status.state == "running"
    assert status.reason == (
        "the command ended (exit code 0), but 3 processes of the job are still running"
    )
    cancelled = await job_service.cancel(job_id)
    assert cancelled.action == "cancelled" and cancelled.signals_sent == ["SIGTERM"]
    await _wait_gone(oumi)
    assert processes_with_env(JOB_MARKER_ENV, job_id) == []
