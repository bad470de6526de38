"""A launch exists from the moment it is accepted; job_name is an idempotency key.

Real processes and the real checks; the validation is slowed (a subclass of
our own ValidationService that waits, then validates for real) to widen the
window in which a launch is accepted but not started.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.acceptance import Accepted, Request, accept
from oumi_mcp_server.jobs.arguments import check_arguments
from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env
from oumi_mcp_server.jobs.process.files import read_pid
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.services import Services, build_job_service
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.validation.documents import ConfigDocument
from oumi_mcp_server.validation.service import ValidationReport, ValidationService
from tests.jobs_support import wait_for_state, with_fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
LONG = {"FAKE_OUMI_SLEEP": "60"}
CHECK_DELAY_S = 0.6


class SlowValidation(ValidationService):
    """The real validation, after a pause: the checks of a first launch under load."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(timeout_s=60.0)
        self.delay_s = delay_s

    async def validate_document(
        self, document: ConfigDocument, client_cwd: Path, task_type: str = "auto"
    ) -> ValidationReport:
        await asyncio.sleep(self.delay_s)
        return await super().validate_document(document, client_cwd, task_type)


@dataclass
class Setup:
    jobs: JobService
    project: Path


@pytest.fixture
async def setup(settings: Settings, tmp_path: Path) -> AsyncIterator[Setup]:
    job_settings = with_fake_oumi(settings, tmp_path)
    services = Services.create(job_settings)
    jobs = build_job_service(
        job_settings,
        validation=SlowValidation(CHECK_DELAY_S),
        preflight=services.preflight,
        launcher=services.launcher,
    )
    try:
        yield Setup(jobs, make_project(tmp_path / "project"))
    finally:
        await jobs.close()


@pytest.mark.parametrize("delay_ms", [0, 10, 50, 100])
async def test_a_cancel_right_after_the_launch_request_means_the_job_never_runs(
    setup: Setup, delay_ms: int
) -> None:
    name = f"early-{delay_ms}"
    launch = asyncio.create_task(
        setup.jobs.run(CONFIG, "train", str(setup.project), dry_run=False, job_name=name, envs=LONG)
    )
    await asyncio.sleep(delay_ms / 1000)
    cancelled = await setup.jobs.cancel(name)
    assert cancelled.action == "cancelled" and cancelled.state == "cancelled", cancelled
    assert cancelled.message.startswith("Cancelled before start"), cancelled.message

    result = await launch
    assert not result.launched and result.state == "cancelled", result
    assert "Nothing was started" in result.message
    status = await setup.jobs.status(name)
    assert status.state == "cancelled" and status.reason.startswith("cancelled before")
    await asyncio.sleep(0.3)
    assert read_pid(RunDir(Path(status_run_dir(setup, name)))) is None  # never spawned
    assert processes_with_env(JOB_MARKER_ENV, name) == []
    again = await setup.jobs.cancel(name)
    assert again.action == "already_finished"


def status_run_dir(setup: Setup, job_id: str) -> str:
    return setup.jobs.registry.get(job_id).run_dir


async def test_a_launch_being_checked_is_visible_as_validating(setup: Setup) -> None:
    launch = asyncio.create_task(
        setup.jobs.run(CONFIG, "train", str(setup.project), dry_run=False, job_name="seen")
    )
    await asyncio.sleep(0.2)
    status = await setup.jobs.status("seen")
    assert status.state == "validating" and not status.terminal, status
    assert "cancel_job" in status.next_step
    listed = await setup.jobs.list_jobs("active")
    assert [(job.job_id, job.state) for job in listed.jobs] == [("seen", "validating")]
    result = await launch
    assert result.launched
    assert await wait_for_state(setup.jobs, "seen", {"completed"}) == "completed"


async def test_the_same_request_with_the_same_name_returns_the_job_it_started(
    setup: Setup,
) -> None:
    first = await setup.jobs.run(
        CONFIG, "train", str(setup.project), dry_run=False, job_name="once", envs=LONG
    )
    assert first.launched and not first.existing
    assert await wait_for_state(setup.jobs, "once", {"running"}) == "running"
    again = await setup.jobs.run(
        CONFIG, "train", str(setup.project), dry_run=False, job_name="once", envs=LONG
    )
    assert again.existing and again.job_id == "once" and again.state == "running", again
    assert "Nothing new was started" in again.message
    dry = await setup.jobs.run(
        CONFIG, "train", str(setup.project), dry_run=True, job_name="once", envs=LONG
    )
    assert "launching would return it" in dry.message
    wrappers = [pid for pid in processes_with_env(JOB_MARKER_ENV, "once") if _is_wrapper(pid)]
    assert len(wrappers) == 1, wrappers
    assert setup.jobs.registry.count() == 1
    await setup.jobs.cancel("once")


async def test_the_same_name_with_another_request_is_refused_naming_the_difference(
    setup: Setup,
) -> None:
    await setup.jobs.run(CONFIG, "train", str(setup.project), dry_run=False, job_name="named")
    for dry_run in (True, False):
        with pytest.raises(InvalidArgumentError) as caught:
            await setup.jobs.run(
                CONFIG,
                "train",
                str(setup.project),
                dry_run=dry_run,
                job_name="named",
                envs={"SECRET_TOKEN": "hunter2-value"},
                overrides=["training.max_steps=3"],
            )
        assert "(envs, overrides differ)" in caught.value.message
        assert "hunter2-value" not in str(caught.value.message) + caught.value.next_step


async def test_a_launch_abandoned_by_a_dead_server_reads_failed_and_a_retry_takes_it_over(
    setup: Setup, settings: Settings
) -> None:
    """A server killed during the checks leaves a pending record whose owner is dead."""
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    args = check_arguments(
        "train",
        job_name="orphaned",
        cloud="",
        cluster_name="",
        envs={},
        overrides=[],
        resources=None,
    )
    request = Request(args, CONFIG, str(setup.project))
    accepted = accept(
        setup.jobs.registry,
        request,
        settings.state_dir,
        {"server_pid": int(dead.stdout), "server_started": 1.0},
    )
    assert isinstance(accepted, Accepted)
    status = await setup.jobs.status("orphaned")
    assert status.state == "failed" and status.reason.startswith("never started"), status

    retry = await setup.jobs.run(
        CONFIG, "train", str(setup.project), dry_run=False, job_name="orphaned"
    )
    assert retry.launched and not retry.existing, retry
    assert await wait_for_state(setup.jobs, "orphaned", {"completed"}) == "completed"
    assert setup.jobs.registry.count() == 1


async def test_a_blocked_launch_leaves_no_job(setup: Setup, tmp_path: Path) -> None:
    bad = setup.project / "configs" / "bad.yaml"
    bad.write_text("model:\n  model_name: 12\ntraining:\n  no_such_field: 1\n")
    result = await setup.jobs.run(
        str(bad), "train", str(setup.project), dry_run=False, job_name="blocked"
    )
    assert not result.launched and result.checks.blocking
    with pytest.raises(NotFoundError):
        await setup.jobs.status("blocked")
    assert not (setup.jobs.registry.path.parent / "jobs" / "blocked").exists()


def _is_wrapper(pid: int) -> bool:
    try:
        return "oumi_mcp_server.jobs.process.wrapper" in Path(f"/proc/{pid}/cmdline").read_text()
    except OSError:
        return False


def test_dead_pid_helper_really_is_dead() -> None:
    probe = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    with pytest.raises(ProcessLookupError):
        os.kill(int(probe.stdout), 0)
