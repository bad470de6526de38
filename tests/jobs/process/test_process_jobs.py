"""Local jobs through JobService, with real processes and an injected fake `oumi` script."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.os_processes import live_group_members
from oumi_mcp_server.jobs.process.files import read_pid
from oumi_mcp_server.jobs.process.spawn import wrapper_argv
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.settings import Settings
from tests.jobs.test_registry import record
from tests.jobs_support import job_service_for, open_fd_count, wait_for_state
from tests.project import training_config, write_yaml

pytestmark = pytest.mark.anyio

FINISHED = {"completed", "failed", "cancelled"}
CONFIG = "configs/train.yaml"


async def test_dry_run_shows_exactly_what_would_run_and_starts_nothing(
    job_service: JobService, project: Path, job_settings: Settings
) -> None:
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        job_name="first-try",
        envs={"WANDB_MODE": "offline", "HF_TOKEN": "hf_secret"},
        overrides=["training.max_steps=3"],
    )
    assert result.dry_run and not result.launched and result.state is None
    staged = job_settings.state_dir / "jobs" / "first-try" / "config.yaml"
    assert result.argv == [
        str(job_settings.oumi_executable),
        "train",
        "-c",
        str(staged),
        "--training.max_steps=3",
    ]
    assert result.cwd == str(project) and result.staged_config_path == str(staged)
    assert result.env_additions["HF_TOKEN"] == "***"
    assert result.env_additions["WANDB_MODE"] == "offline"
    assert result.env_additions["OUMI_MCP_JOB_ID"] == "first-try"
    assert result.checks.valid and not result.checks.blocking, result.checks
    assert result.output_dir == str(project / "output" / "run")
    assert "dry_run=false" in result.next_step
    assert not staged.parent.exists()
    assert (await job_service.list_jobs()).total == 0


async def test_a_real_run_returns_at_once_and_completes(
    job_service: JobService, project: Path
) -> None:
    await job_service.run(CONFIG, "train", str(project))  # warm: oumi imported for validation
    started = time.perf_counter()
    result = await job_service.run(
        CONFIG, "train", str(project), dry_run=False, envs={"FAKE_OUMI_SLEEP": "1"}
    )
    elapsed = time.perf_counter() - started
    assert result.launched and result.state in ("launching", "running"), result
    assert elapsed < 2.0, elapsed
    # The job reads the staged copy: editing the user's file changes nothing.
    staged = Path(result.staged_config_path)
    original = staged.read_text()
    (project / CONFIG).write_text("edited: true\n")
    assert staged.read_text() == original
    assert await wait_for_state(job_service, result.job_id, FINISHED) == "completed"
    status = await job_service.status(result.job_id)
    assert (status.exit_code, status.reason, status.terminal) == (0, "exit code 0", True)
    assert status.started_at and status.ended_at and status.duration_s is not None
    assert "Results are in" in status.next_step
    logs = await job_service.logs(result.job_id, stream="stdout")
    assert logs.chunks[0].text.startswith(f"fake oumi train -c {staged}")
    await asyncio.sleep(0.6)  # the supervisor polls every 0.25 s
    assert len(job_service.runtimes) == 0


async def test_a_failing_job_reports_exit_code_and_stderr_tail(
    job_service: JobService, project: Path
) -> None:
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        dry_run=False,
        envs={"FAKE_OUMI_EXIT": "3", "FAKE_OUMI_STDERR": "ValueError: dataset not found"},
    )
    assert await wait_for_state(job_service, result.job_id, FINISHED) == "failed"
    status = await job_service.status(result.job_id)
    assert status.exit_code == 3 and status.reason == "exit code 3"
    assert status.stderr_tail[-1] == "ValueError: dataset not found"
    assert "stderr" in status.next_step


async def test_cancel_stops_the_whole_process_group_and_is_idempotent(
    job_service: JobService, project: Path
) -> None:
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        dry_run=False,
        envs={"FAKE_OUMI_SLEEP": "300", "FAKE_OUMI_CHILD": "1"},
    )
    assert await wait_for_state(job_service, result.job_id, {"running"}) == "running"
    pid = (await job_service.status(result.job_id)).pid
    assert pid is not None
    for _ in range(50):  # the fake starts its child right away
        if len(live_group_members(pid)) >= 3:
            break
        await asyncio.sleep(0.1)
    assert len(live_group_members(pid)) >= 3  # wrapper, sh, background sleep
    cancelled = await job_service.cancel(result.job_id)
    assert cancelled.action == "cancelled" and cancelled.state == "cancelled"
    assert cancelled.previous_state == "running" and cancelled.signals_sent == ["SIGTERM"]
    assert live_group_members(pid) == []
    again = await job_service.cancel(result.job_id)
    assert again.action == "already_finished" and again.signals_sent == []
    assert "already finished (cancelled)" in again.message
    assert (await job_service.status(result.job_id)).state == "cancelled"


async def test_cancel_escalates_to_sigkill_and_force_kills_at_once(
    job_service: JobService, project: Path
) -> None:
    stubborn = {"FAKE_OUMI_SLEEP": "300", "FAKE_OUMI_IGNORE_TERM": "1"}
    first = await job_service.run(CONFIG, "train", str(project), dry_run=False, envs=stubborn)
    second = await job_service.run(CONFIG, "train", str(project), dry_run=False, envs=stubborn)
    for job in (first, second):
        assert await wait_for_state(job_service, job.job_id, {"running"}) == "running"
    await asyncio.sleep(0.3)  # let the shell install its trap
    started = time.monotonic()
    escalated = await job_service.cancel(first.job_id)
    assert escalated.signals_sent == ["SIGTERM", "SIGKILL"] and escalated.state == "cancelled"
    assert time.monotonic() - started >= 2.0  # the grace period
    started = time.monotonic()
    forced = await job_service.cancel(second.job_id, force=True)
    assert forced.signals_sent == ["SIGKILL"] and forced.state == "cancelled"
    assert time.monotonic() - started < 2.0


async def test_jobs_outlive_their_manager_and_a_new_one_reports_them(
    job_settings: Settings, project: Path
) -> None:
    first = await job_service_for(job_settings)
    running = await first.run(
        CONFIG, "train", str(project), dry_run=False, envs={"FAKE_OUMI_SLEEP": "2"}
    )
    finishing = await first.run(
        CONFIG,
        "train",
        str(project),
        dry_run=False,
        envs={"FAKE_OUMI_SLEEP": "1", "FAKE_OUMI_EXIT": "4"},
    )
    await first.close()  # the "server" goes away; its jobs do not
    second = await job_service_for(job_settings)
    try:
        await second.ensure_reconciled()
        assert (await second.status(running.job_id)).state == "running"
        assert await wait_for_state(second, running.job_id, FINISHED) == "completed"
        status = await second.status(finishing.job_id)
        assert (status.state, status.exit_code) == ("failed", 4)
    finally:
        await second.close()


async def test_a_vanished_process_without_exit_record_is_lost(
    job_service: JobService, tmp_path: Path
) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    run = tmp_path / "state" / "jobs" / "ghost"
    run.mkdir(parents=True)
    job_service.registry.add(
        record("ghost", pid=gone.pid, process_start_time=1.0, run_dir=str(run))
    )
    status = await job_service.status("ghost")
    assert status.state == "failed" and status.reason.startswith("lost")


async def test_a_reused_pid_is_not_mistaken_for_our_job(
    job_service: JobService, tmp_path: Path
) -> None:
    run = tmp_path / "state" / "jobs" / "reused"
    run.mkdir(parents=True)
    alive = os.getpid()  # alive, but not started when recorded and without our marker
    job_service.registry.add(
        record(
            "reused",
            pid=alive,
            process_start_time=1.0,
            marker="oumi_mcp_job=reused",
            run_dir=str(run),
        )
    )
    assert (await job_service.status("reused")).state == "failed"


async def test_a_record_without_process_is_launching_then_lost(
    job_service: JobService, tmp_path: Path
) -> None:
    for job_id, age in (("fresh", 0.0), ("stale", 3600.0)):
        run = tmp_path / "state" / "jobs" / job_id
        run.mkdir(parents=True)
        job_service.registry.add(record(job_id, time.time() - age, run_dir=str(run)))
    assert (await job_service.status("fresh")).state == "launching"
    stale = await job_service.status("stale")
    assert stale.state == "failed" and "never started" in stale.reason


async def test_reconcile_recovers_a_process_known_only_from_its_pid_file(
    job_service: JobService, tmp_path: Path, job_settings: Settings
) -> None:
    run = RunDir.for_job(job_settings.state_dir, "orphan")
    run.create()
    marker = "oumi_mcp_job=orphan"
    wrapper = wrapper_argv(
        sys.executable, record("orphan", run_dir=str(run.path), marker=marker), ["sleep", "30"]
    )
    process = subprocess.Popen(wrapper, start_new_session=True)
    try:
        job_service.registry.add(record("orphan", run_dir=str(run.path), marker=marker))
        for _ in range(50):
            if read_pid(run):
                break
            await asyncio.sleep(0.1)
        counts = await job_service.reconcile()
        assert counts == {"running": 1}
        repaired = job_service.registry.get("orphan")
        assert repaired.pid == process.pid and repaired.process_start_time
        assert (await job_service.status("orphan")).state == "running"
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


async def test_fifty_short_jobs_leave_no_runtime_and_no_open_file(
    job_service: JobService, project: Path
) -> None:
    first = await job_service.run(CONFIG, "train", str(project), dry_run=False)
    await wait_for_state(job_service, first.job_id, FINISHED)
    await asyncio.sleep(0.5)
    baseline = open_fd_count()
    ids = []
    for _ in range(5):
        batch = await asyncio.gather(
            *(job_service.run(CONFIG, "train", str(project), dry_run=False) for _ in range(10))
        )
        ids += [job.job_id for job in batch]
    assert len(set(ids)) == 50
    for job_id in ids:
        assert await wait_for_state(job_service, job_id, FINISHED) == "completed"
    await asyncio.sleep(0.6)
    job_service.cleanup_stale_runtimes()
    assert len(job_service.runtimes) == 0
    assert open_fd_count() == baseline
    assert (await job_service.list_jobs("completed", limit=1000)).total == 51


async def test_old_finished_records_are_pruned_with_their_run_dirs(
    job_service: JobService, project: Path, job_settings: Settings
) -> None:
    done = await job_service.run(CONFIG, "train", str(project), dry_run=False)
    await wait_for_state(job_service, done.job_id, FINISHED)
    alive = await job_service.run(
        CONFIG, "train", str(project), dry_run=False, envs={"FAKE_OUMI_SLEEP": "30"}
    )
    await wait_for_state(job_service, alive.job_id, {"running"})
    job_service.runtimes.create(done.job_id)  # a leftover runtime is evicted with its record
    pruned = await job_service.prune(now=time.time() + 8 * 86400)
    assert pruned == [done.job_id]
    assert not Path(done.run_dir).exists() and done.job_id not in job_service.runtimes
    assert job_service.registry.find(alive.job_id) is not None
    await job_service.cancel(alive.job_id, force=True)


async def test_blocked_checks_stop_a_real_run_with_the_report(
    job_service: JobService, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "bad.yaml", training_config("data/missing.jsonl"))
    result = await job_service.run("bad.yaml", "train", str(tmp_path), dry_run=False)
    assert not result.launched and result.checks.blocking
    assert any("missing.jsonl" in f.message for f in result.checks.preflight_errors)
    assert (await job_service.list_jobs()).total == 0
    wrong_kind = await job_service.run(str(tmp_path / "bad.yaml"), "infer", str(tmp_path))
    assert not wrong_kind.checks.valid and wrong_kind.checks.validation_errors


async def test_job_name_clash_cloud_and_cluster_are_clear_errors(
    job_service: JobService, project: Path
) -> None:
    await job_service.run(CONFIG, "train", str(project), dry_run=False, job_name="mine")
    # The same name with another request is refused (the same request returns the job:
    # jobs/process/test_faults.py).
    for dry_run in (False, True):
        with pytest.raises(InvalidArgumentError, match="'mine' already exists"):
            await job_service.run(
                CONFIG, "train", str(project), dry_run=dry_run, job_name="mine", envs={"A": "1"}
            )
    with pytest.raises(InvalidArgumentError, match=r"not a cloud oumi\.launcher knows"):
        await job_service.run(CONFIG, "train", str(project), cloud="moon")
    with pytest.raises(InvalidArgumentError, match="cluster_name"):
        await job_service.run(CONFIG, "train", str(project), cluster_name="c1")
    with pytest.raises(InvalidArgumentError, match="accelerators"):
        await job_service.run(
            CONFIG, "train", str(project), resources=CloudResources(accelerators="A100:1")
        )


async def test_logs_page_forward_with_next_offset(job_service: JobService, project: Path) -> None:
    result = await job_service.run(
        CONFIG, "train", str(project), dry_run=False, envs={"FAKE_OUMI_LINES": "5000"}
    )
    await wait_for_state(job_service, result.job_id, FINISHED)
    tail = await job_service.logs(result.job_id, lines=10, stream="stdout")
    assert tail.chunks[0].text.splitlines() == [f"line {i}" for i in range(4990, 5000)]
    assert "offset=0" in tail.next_step
    lines: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = await job_service.logs(result.job_id, lines=2000, stream="stdout", offset=offset)
        lines += page.chunks[0].text.splitlines()
        offset = page.next_offset
    assert lines[1:] == [f"line {i}" for i in range(5000)]
    with pytest.raises(InvalidArgumentError, match="paging needs one stream"):
        await job_service.logs(result.job_id, stream="both", offset=0)
    with pytest.raises(InvalidArgumentError, match="stream"):
        await job_service.logs(result.job_id, stream="stdin")


async def test_a_missing_oumi_executable_fails_the_job_with_the_reason(
    settings: Settings, tmp_path: Path, project: Path
) -> None:
    from dataclasses import replace

    broken = replace(settings, oumi_executable=tmp_path / "no" / "oumi")
    jobs = await job_service_for(broken)
    try:
        result = await jobs.run(CONFIG, "train", str(project), dry_run=False)
        assert await wait_for_state(jobs, result.job_id, FINISHED) == "failed"
        status = await jobs.status(result.job_id)
        assert status.exit_code == 127 and "could not start" in status.reason
    finally:
        await jobs.close()
