"""Races around a launch, made deterministic: a config swapped between its checks and its
staging, cancels that come at once, a cancel during the hand-over, a stopped job.

Real processes (the fake `oumi` script); the moment of each race is chosen by a
validation service or a holder injected through the composition root, never by
patching.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from oumi_mcp_server.jobs.acceptance import Accepted, Request, accept, owner
from oumi_mcp_server.jobs.arguments import check_arguments
from oumi_mcp_server.jobs.pending import PendingLaunches
from oumi_mcp_server.jobs.process.backend import ProcessBackend
from oumi_mcp_server.jobs.records import PROCESS_BACKEND
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.services import Services, build_job_service
from oumi_mcp_server.settings import Settings
from oumi_mcp_server.validation.documents import ConfigDocument
from oumi_mcp_server.validation.service import ValidationReport, ValidationService
from tests.jobs_support import wait_for_state

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
FINISHED = {"completed", "failed", "cancelled"}
SECRET = "OutsideTheProjectSecret9d2c"


class ValidationThen(ValidationService):
    """Validates for real, then does something (swaps the file) before the launch goes on."""

    def __init__(self, then: Callable[[], None]) -> None:
        super().__init__(timeout_s=120.0)
        self._then = then

    async def validate_document(
        self, document: ConfigDocument, client_cwd: Path, task_type: str = "auto"
    ) -> ValidationReport:
        report = await super().validate_document(document, client_cwd, task_type)
        self._then()
        return report


async def _service(settings: Settings, validation: ValidationService) -> JobService:
    services = Services.create(settings)
    return build_job_service(
        settings,
        validation=validation,
        preflight=services.preflight,
        launcher=services.launcher,
    )


def _swap_for_link(config: Path, target: Path) -> Callable[[], None]:
    def swap() -> None:
        config.unlink()
        config.symlink_to(target)

    return swap


@pytest.mark.parametrize("swapped_in", ["outside file", "/dev/zero", "edited config"])
async def test_the_job_runs_the_bytes_that_were_validated_not_a_file_swapped_in_after(
    job_settings: Settings, project: Path, tmp_path: Path, swapped_in: str
) -> None:
    config = project / CONFIG
    validated = config.read_text()
    if swapped_in == "outside file":
        outside = tmp_path / "outside.yaml"
        outside.write_text(f"model:\n  model_name: {SECRET}\n")
        swap = _swap_for_link(config, outside)
    elif swapped_in == "/dev/zero":
        swap = _swap_for_link(config, Path("/dev/zero"))
    else:

        def swap() -> None:
            config.write_text(validated.replace("max_steps: 2", f"max_steps: 2  # {SECRET}"))

    jobs = await _service(job_settings, ValidationThen(swap))
    try:
        result = await jobs.run(CONFIG, "train", str(project), dry_run=False)
        assert result.job_id, result.message
        assert await wait_for_state(jobs, result.job_id, FINISHED) == "completed"
        staged = Path(result.staged_config_path)
        assert staged.parent != config.parent
        assert staged.stat().st_size == len(validated.encode())
        assert staged.read_text() == validated
        assert not staged.is_symlink()
        assert staged.stat().st_mode & 0o777 == 0o600
        logs = await jobs.logs(result.job_id, stream="stderr")
        assert f"loading config {staged}" in "".join(chunk.text for chunk in logs.chunks)
    finally:
        await jobs.close()


async def test_concurrent_cancels_all_answer_cleanly_and_the_job_ends_cancelled(
    job_service: JobService, project: Path
) -> None:
    for round_number in range(3):
        result = await job_service.run(
            CONFIG,
            "train",
            str(project),
            dry_run=False,
            job_name=f"many-cancels-{round_number}",
            envs={"FAKE_OUMI_SLEEP": "60"},
        )
        assert await wait_for_state(job_service, result.job_id, {"running"}) == "running"
        answers = await asyncio.gather(
            *(job_service.cancel(result.job_id) for _ in range(6)), return_exceptions=True
        )
        failures = [answer for answer in answers if isinstance(answer, BaseException)]
        assert not failures, failures
        actions = [answer.action for answer in answers if not isinstance(answer, BaseException)]
        assert set(actions) <= {"cancelled", "already_finished"}, actions
        assert "cancelled" in actions, actions
        assert (await job_service.status(result.job_id)).state == "cancelled"


async def test_a_stopped_job_says_so_and_cancel_still_ends_it(
    job_service: JobService, project: Path
) -> None:
    result = await job_service.run(
        CONFIG, "train", str(project), dry_run=False, envs={"FAKE_OUMI_SLEEP": "60"}
    )
    assert await wait_for_state(job_service, result.job_id, {"running"}) == "running"
    pid = (await job_service.status(result.job_id)).pid
    assert pid is not None
    os.killpg(pid, signal.SIGSTOP)
    try:
        status = await job_service.status(result.job_id)
        assert status.state == "running"
        assert "stopped" in status.reason and "SIGCONT" in status.reason, status.reason
        listed = {row.job_id: row for row in (await job_service.list_jobs()).jobs}
        assert "stopped" in listed[result.job_id].reason
        cancelled = await job_service.cancel(result.job_id)
        assert cancelled.action == "cancelled", cancelled
        assert cancelled.signals_sent[:1] == ["SIGTERM"], cancelled.signals_sent
        assert (await job_service.status(result.job_id)).state == "cancelled"
    finally:
        if _group_alive(pid):
            os.killpg(pid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_cancel_that_lands_during_the_hand_over_says_it_cancelled(
    job_service: JobService, project: Path, job_settings: Settings
) -> None:
    """The cancel sees the launch pending, the launch hands the record over, the cancel
    writes its request and finds the engine's record; the launch then sees the request
    and does not start. The cancel did it, so it answers "cancelled", not "already
    finished"."""
    args = check_arguments(
        "train", job_name="handed", cloud="", cluster_name="", envs={}, overrides=[], resources=None
    )
    accepted = accept(
        job_service.registry, Request(args, CONFIG, str(project)), job_settings.state_dir, owner()
    )
    assert isinstance(accepted, Accepted)
    pending = accepted.record
    process = ProcessBackend(job_service.registry, RuntimeTable(), state_dir=job_settings.state_dir)
    holder = PendingLaunches(job_service.registry, {PROCESS_BACKEND: process})
    assert (await holder.observe([pending]))[0].state.value == "validating"

    assert job_service.registry.hand_over(replace(pending, backend=PROCESS_BACKEND))
    outcome = await holder.cancel(pending, force=False)
    assert RunDir(Path(pending.run_dir)).read_cancel() is not None  # the launch stops here

    assert outcome.action == "cancelled", outcome
    assert outcome.final.state.value == "cancelled"
    assert "handed over" in outcome.message
    again = await job_service.cancel("handed")
    assert again.action == "already_finished" and again.state == "cancelled", again
    assert (await job_service.status("handed")).state == "cancelled"


def test_run_dir_files_written_from_many_threads_at_once_are_never_lost(tmp_path: Path) -> None:
    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    errors: list[BaseException] = []

    def write(number: int) -> None:
        for step in range(30):
            try:
                run.write("cancel.json", {"writer": number, "step": step})
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=write, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert run.read("cancel.json") is not None
    assert sorted(path.name for path in run.path.iterdir()) == ["cancel.json"]


async def test_the_jobs_envs_reach_oumi_but_never_load_code_into_the_wrapper(
    job_service: JobService, project: Path, tmp_path: Path
) -> None:
    """PYTHONPATH in envs is for the job: the wrapper (python -I) imports nothing from it."""
    planted = tmp_path / "planted"
    planted.mkdir()
    touched = tmp_path / "sitecustomize-ran"
    (planted / "sitecustomize.py").write_text(
        f"import pathlib\npathlib.Path({str(touched)!r}).write_text('ran')\n"
    )
    dry = await job_service.run(CONFIG, "train", str(project), envs={"PYTHONPATH": str(planted)})
    assert any(w.field == "PYTHONPATH" for w in dry.checks.warnings), dry.checks.warnings
    result = await job_service.run(
        CONFIG, "train", str(project), dry_run=False, envs={"PYTHONPATH": str(planted)}
    )
    assert await wait_for_state(job_service, result.job_id, FINISHED) == "completed"
    assert not touched.exists()


async def test_a_cancel_that_finds_the_record_before_its_run_dir_waits_for_it(
    job_service: JobService, project: Path, job_settings: Settings
) -> None:
    """The acceptance saves the pending record a moment before it creates the run dir; a
    cancel in between used to fail (FileNotFoundError). It waits for the dir and records
    the request there, so the launch will not start."""
    args = check_arguments(
        "train", job_name="early", cloud="", cluster_name="", envs={}, overrides=[], resources=None
    )
    accepted = accept(
        job_service.registry, Request(args, CONFIG, str(project)), job_settings.state_dir, owner()
    )
    assert isinstance(accepted, Accepted)
    run = RunDir.of(accepted.record)
    hidden = run.path.with_name("early.moved")
    run.path.rename(hidden)  # as between the record's insert and the dir's creation
    holder = PendingLaunches(job_service.registry, {})

    async def create_the_run_dir_later() -> None:
        await asyncio.sleep(0.3)
        hidden.rename(run.path)

    outcome, _ = await asyncio.gather(
        holder.cancel(accepted.record, force=False), create_the_run_dir_later()
    )
    assert outcome.action == "cancelled", outcome
    assert run.read_cancel() is not None

    withdrawn = replace(accepted.record, job_id="gone", run_dir=str(hidden))
    job_service.registry.add(replace(withdrawn, submitted_at=withdrawn.submitted_at + 1))
    job_service.registry.delete(["gone"])
    gone = await holder.cancel(withdrawn, force=False)
    assert gone.action == "already_finished" and "nothing was started" in gone.message, gone
