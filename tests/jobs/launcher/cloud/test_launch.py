"""Cloud launches with a scriptable fake oumi.launcher: job configs, launch, cancel races.

The fake (tests/launcher_support.py) is injected through the LauncherEngine
interface: ``up`` can block or fail, ``cancel`` can hang, and every call is
recorded, so each test checks what the launcher was really asked to do
(nothing launched by a dry run, no orphan after a cancel).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.services import build_job_service
from oumi_mcp_server.settings import Settings
from tests.jobs.launcher.cloud.support import (
    CANCEL_S,
    CONFIG,
    LIMITS,
    MARGIN_S,
    RecordingLauncher,
    job_config_data,
    launch_on_gcp,
    services_for,
    until,
)
from tests.launcher_support import FakeLauncher
from tests.project import write_yaml

pytestmark = pytest.mark.anyio


# -- dry runs: the job config that would be launched ------------------------------------


async def test_generated_job_config_for_a_training_config(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed: SkyPilot honours .gitignore only in a git repository")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text("checkpoints/\n")
    (project / "checkpoints").mkdir()
    (project / "checkpoints" / "big.bin").write_bytes(b"0" * 1024)

    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        cloud="gcp",
        job_name="cloud-try",
        envs={"HF_TOKEN": "hf_secret_value", "WANDB_MODE": "offline"},
        overrides=["training.max_steps=3", "training.learning_rate=0.001"],
        resources=CloudResources(accelerators="A100:2", disk_size_gb=256, use_spot=True),
    )

    assert result.dry_run and not result.launched and result.state is None
    assert result.cloud == "gcp" and result.job_id == "cloud-try"
    assert result.checks.valid and not result.checks.blocking, result.checks
    job = result.job_config
    assert job is not None
    assert job["name"] == "cloud-try"
    assert job["working_dir"] == str(project)
    assert f'"oumi[gpu]=={version("oumi")}"' in job["setup"]
    assert job["run"].splitlines()[-1] == (
        "oumi train -c configs/train.yaml --training.max_steps=3 --training.learning_rate=0.001"
    )
    assert job["resources"] == {
        "cloud": "gcp",
        "accelerators": "A100:2",
        "disk_size": 256,
        "use_spot": True,
    }
    assert job["envs"]["OUMI_MCP_JOB_ID"] == "cloud-try"
    assert job["envs"]["WANDB_MODE"] == "offline"
    assert job["envs"]["HF_TOKEN"] == "***"
    assert "hf_secret_value" not in result.model_dump_json()

    sync = result.sync
    assert sync is not None and sync.working_dir == str(project)
    assert sync.ignore_rule == ".gitignore"
    uploaded = [
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and "checkpoints" not in path.parts
    ]
    assert sync.files == len(uploaded)
    assert {"configs/train.yaml", "data/train.jsonl"} <= set(uploaded)
    assert not [name for name in sync.sample if name.startswith("checkpoints/")]
    assert "stop_cluster" in result.reminder and "down_cluster" in result.reminder
    assert "dry_run=false" in result.next_step

    assert engine.calls_named("up") == []
    assert job_service.registry.find("cloud-try") is None
    assert not Path(result.run_dir).exists()


async def test_a_given_job_config_is_launched_as_written_with_our_identity(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    (project / "workdir").mkdir()
    (project / "workdir" / "script.py").write_text("print('hi')\n")
    write_yaml(project / "jobs" / "gcp.yaml", job_config_data())

    result = await job_service.run(
        "jobs/gcp.yaml", "train", str(project), job_name="given", envs={"EXTRA": "1"}
    )

    job = result.job_config
    assert job is not None and result.cloud == "gcp"
    assert job["name"] == "given"
    assert job["working_dir"] == str(project / "workdir")
    assert job["file_mounts"] == {"~/data/train.jsonl": "data/train.jsonl"}
    assert job["storage_mounts"] == {"/bucket": {"source": "gs://my-bucket", "store": "gcs"}}
    assert job["resources"] == {"cloud": "gcp", "accelerators": "A100:1"}
    assert job["setup"] == "pip install oumi"
    assert job["run"] == "oumi train -c configs/train.yaml"
    assert job["envs"] == {"FOO": "bar", "EXTRA": "1", "OUMI_MCP_JOB_ID": "given"}
    assert result.sync is not None and result.sync.sample == ["script.py"]
    assert engine.calls_named("up") == []


async def test_a_job_config_cloud_conflict_or_no_cloud_is_a_clear_error(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    write_yaml(project / "jobs" / "gcp.yaml", job_config_data())
    with pytest.raises(InvalidArgumentError, match="conflicts with the job config") as raised:
        await job_service.run("jobs/gcp.yaml", "train", str(project), cloud="aws")
    assert raised.value.field == "cloud" and raised.value.next_step

    write_yaml(
        project / "jobs" / "nocloud.yaml", job_config_data(resources={"accelerators": "A100"})
    )
    with pytest.raises(InvalidArgumentError, match=r"no resources\.cloud") as raised:
        await job_service.run("jobs/nocloud.yaml", "train", str(project))
    assert "cloud" in raised.value.next_step
    assert engine.calls == []


# -- launch ----------------------------------------------------------------------------


async def test_launch_returns_at_once_then_the_launcher_is_the_source_of_truth(
    job_service: JobService, engine: RecordingLauncher, project: Path
) -> None:
    engine.up_gate = threading.Event()
    started = time.monotonic()
    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        cloud="gcp",
        dry_run=False,
        envs={"HF_TOKEN": "hf_real_token"},
    )
    assert time.monotonic() - started < 5.0
    assert result.launched and result.state == "launching"
    assert result.job_config is not None and result.job_config["envs"]["HF_TOKEN"] == "***"
    record = job_service.registry.get(result.job_id)
    assert record.backend == "launcher" and record.cloud == "gcp"
    assert record.launcher_job_id == "" and record.cluster_name == ""
    assert "HF_TOKEN" in record.env_names
    stored = [path for path in job_service.registry.path.parent.rglob("*") if path.is_file()]
    assert stored and not [path for path in stored if b"hf_real_token" in path.read_bytes()]
    assert (await job_service.status(result.job_id)).state == "launching"
    listed = await job_service.list_jobs()
    assert [(job.job_id, job.state) for job in listed.jobs] == [(result.job_id, "launching")]
    assert await until(lambda: bool(engine.calls_named("up")))
    sent = engine.job_configs[0]
    assert sent["name"] == result.job_id and sent["working_dir"] == str(project)
    assert sent["envs"]["HF_TOKEN"] == "hf_real_token"  # masked only where it is shown

    engine.up_gate.set()
    assert await until(lambda: not job_service.runtimes)
    record = job_service.registry.get(result.job_id)
    assert record.launcher_job_id == "1" and record.cluster_name == "gcp-cluster-1"
    status = await job_service.status(result.job_id)
    assert status.state == "running" and status.launcher_job_id == "1"
    assert status.cluster_name == "gcp-cluster-1"
    assert ("status", "gcp", "gcp-cluster-1", "1") in engine.calls
    assert len(job_service.runtimes) == 0
    assert engine.clouds_by_name["gcp"].jobs[0].name == result.job_id


async def test_a_failing_up_fails_the_job_with_the_launch_error(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    engine.up_error = "quota exceeded for A100 in us-central1"
    result = await job_service.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    assert result.state == "launching"
    assert await until(lambda: not job_service.runtimes)
    status = await job_service.status(result.job_id)
    assert status.state == "failed" and status.terminal
    assert "quota exceeded for A100" in status.reason
    assert job_service.registry.get(result.job_id).launcher_job_id == ""


# -- cancel ------------------------------------------------------------------------------


async def test_cancel_during_up_cancels_what_up_started(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    engine.up_gate = threading.Event()
    result = await job_service.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    assert await until(lambda: bool(engine.calls_named("up")))

    started = time.monotonic()
    cancelled = await job_service.cancel(result.job_id)
    assert time.monotonic() - started < 2.0
    assert cancelled.action == "cancelled" and cancelled.state == "cancelled"
    assert cancelled.previous_state == "launching"
    assert engine.calls_named("cancel") == []  # nothing to cancel yet

    engine.up_gate.set()
    assert await until(lambda: bool(engine.calls_named("cancel"))), "orphan left running"
    record = job_service.registry.get(result.job_id)
    assert engine.calls_named("cancel") == [
        ("cancel", "gcp", record.cluster_name, record.launcher_job_id)
    ]
    assert record.launcher_job_id == "1"
    assert (await job_service.status(result.job_id)).state == "cancelled"
    again = await job_service.cancel(result.job_id)
    assert again.action == "already_finished"
    assert len(engine.calls_named("cancel")) == 1


async def test_cancel_after_launch_checks_the_live_state_first(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    finished = await launch_on_gcp(job_service, project)
    engine.set_status("gcp", finished.launcher_job_id, "SUCCEEDED", "completed", True)
    result = await job_service.cancel(finished.job_id)
    assert result.action == "already_finished" and result.state == "completed"
    assert engine.calls_named("cancel") == []

    running = await launch_on_gcp(job_service, project)
    assert (await job_service.status(running.job_id)).state == "running"
    result = await job_service.cancel(running.job_id)
    assert engine.calls_named("cancel") == [
        ("cancel", "gcp", running.cluster_name, running.launcher_job_id)
    ]
    assert result.action == "cancelled"
    assert result.previous_state == "running" and result.state == "cancelled"
    assert result.signals_sent == ["launcher.cancel"]
    assert (await job_service.status(running.job_id)).state == "cancelled"


async def test_force_is_refused_for_a_launcher_job_and_changes_nothing(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    running = await launch_on_gcp(job_service, project)
    with pytest.raises(InvalidArgumentError) as raised:
        await job_service.cancel(running.job_id, force=True)
    assert raised.value.field == "force" and "oumi.launcher" in raised.value.message
    assert "without force" in raised.value.next_step
    assert engine.calls_named("cancel") == []
    assert (await job_service.status(running.job_id)).state == "running"
    assert (await job_service.cancel(running.job_id)).state == "cancelled"


async def test_a_hanging_cancel_is_a_time_out_that_says_how_to_check(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    record = await launch_on_gcp(job_service, project)
    engine.cancel_hang_s = CANCEL_S + 2.0
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError) as raised:
        await job_service.cancel(record.job_id)
    elapsed = time.monotonic() - started
    assert elapsed < CANCEL_S + MARGIN_S, elapsed
    assert "may still be running" in raised.value.message
    assert f"get_job_status(job_id='{record.job_id}')" in raised.value.next_step
    assert "oumi launch cancel" in raised.value.next_step
    assert engine.calls_named("cancel") == [
        ("cancel", "gcp", record.cluster_name, record.launcher_job_id)
    ]


class ForgetfulRegistry(Registry):
    """A registry that is busy exactly when the launch records its launcher identity."""

    def set_launcher_identity(self, job_id: str, cluster_name: str, launcher_job_id: str) -> None:
        raise sqlite3.OperationalError("database is locked")


async def test_a_launch_the_registry_missed_is_still_found_through_its_run_dir(
    settings: Settings, engine: FakeLauncher, project: Path
) -> None:
    services = services_for(settings, engine)
    job_service = build_job_service(
        settings,
        validation=services.validation,
        preflight=services.preflight,
        registry=ForgetfulRegistry(settings.state_dir),
        launcher=lambda: engine,
        launcher_limits=LIMITS,
    )
    launched = await job_service.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    assert await until(lambda: not job_service.runtimes), "the launch never settled"
    assert job_service.registry.get(launched.job_id).launcher_job_id == ""
    status = await job_service.status(launched.job_id)
    assert status.state == "running" and status.reason.startswith("gcp/"), status
    cancelled = await job_service.cancel(launched.job_id)
    assert cancelled.state == "cancelled", cancelled
    assert engine.calls_named("cancel"), "the launcher job was not cancelled"
    await job_service.close()
