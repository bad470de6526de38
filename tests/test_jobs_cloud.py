"""Cloud and cluster jobs through JobManager, with a scriptable fake oumi.launcher.

The fake (tests/launcher_support.py) is injected through the LauncherEngine
interface: ``up`` can block or fail, clouds can hang or fail, ``cancel`` can
hang, and every call is recorded, so each test checks what the launcher was
really asked to do (nothing launched by a dry run, no orphan after a cancel,
no extra status call within the cache window).
"""

from __future__ import annotations

import asyncio
import copy
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.backends.launcher import LauncherLimits
from oumi_mcp_server.jobs.cloud_plan import CloudResources
from oumi_mcp_server.jobs.manager import JobManager
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.launcher.engine import LauncherJob
from oumi_mcp_server.preflight.cloud_check import env_hints
from oumi_mcp_server.preflight.context import build_context
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings
from tests.launcher_support import FakeCloud, FakeLauncher
from tests.project import make_project, write_yaml

pytestmark = pytest.mark.anyio

CONFIG = "configs/train.yaml"
LIST_S = 0.5
CANCEL_S = 0.5
MARGIN_S = 1.0
LIMITS = LauncherLimits(
    up_s=30.0,
    status_s=2.0,
    list_s=LIST_S,
    list_cache_s=5.0,
    load_s=2.0,
    cancel_s=CANCEL_S,
    cancel_settle_s=1.0,
    logs_s=1.0,
    survivor_grace_s=0.5,
)


@pytest.fixture(scope="module", autouse=True)
def _warm_imports() -> None:
    """Import oumi and SkyPilot once, so no single test pays for the first import."""
    import oumi.core.configs  # noqa: F401
    import sky.data.storage_utils  # noqa: F401


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared settings, but list_jobs asks every cloud the fake launcher knows."""
    return replace(settings, listed_clouds=None)


def _checker() -> CloudChecker:
    """Cloud readiness without `sky check`: gcp and aws are enabled."""
    return CloudChecker(lambda: ["aws", "gcp"], timeout_s=5.0, cache_s=60.0)


def _services(settings: Settings, engine: FakeLauncher) -> Services:
    return Services.create(settings, cloud_checker=_checker(), launcher=engine)


class RecordingLauncher(FakeLauncher):
    """The fake, also keeping each job config handed to ``up``."""

    def __init__(self, clouds: Mapping[str, FakeCloud] | None = None) -> None:
        super().__init__(clouds)
        self.job_configs: list[dict[str, Any]] = []

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        with self.lock:
            self.job_configs.append(copy.deepcopy(dict(job_config)))
        return super().up(job_config, cluster_name)


@pytest.fixture
def engine() -> RecordingLauncher:
    return RecordingLauncher()


def _manager(
    settings: Settings, engine: FakeLauncher, limits: LauncherLimits = LIMITS
) -> JobManager:
    services = _services(settings, engine)
    return JobManager(
        settings,
        validation=services.validation,
        preflight=services.preflight,
        launcher=lambda: engine,
        launcher_limits=limits,
    )


@pytest.fixture
async def manager(settings: Settings, engine: FakeLauncher) -> AsyncIterator[JobManager]:
    jobs = _manager(settings, engine)
    try:
        yield jobs
    finally:
        if engine.up_gate is not None:
            engine.up_gate.set()  # never leave a launch thread waiting
        await jobs.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


async def _until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def _launch(manager: JobManager, project: Path, **arguments: Any) -> JobRecord:
    """Launch on gcp and wait until up returned (the runtime is then evicted)."""
    result = await manager.run(
        CONFIG, "train", str(project), cloud="gcp", dry_run=False, **arguments
    )
    assert result.launched and result.state == "launching", result.message
    assert await _until(lambda: not manager.runtimes), "the launch never settled"
    return manager.registry.get(result.job_id)


def _status_calls(engine: FakeLauncher) -> int:
    return len(engine.calls_named("status"))


# -- dry runs: the job config that would be launched ------------------------------------


async def test_generated_job_config_for_a_training_config(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed: SkyPilot honours .gitignore only in a git repository")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / ".gitignore").write_text("checkpoints/\n")
    (project / "checkpoints").mkdir()
    (project / "checkpoints" / "big.bin").write_bytes(b"0" * 1024)

    result = await manager.run(
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
    assert manager.registry.find("cloud-try") is None
    assert not Path(result.run_dir).exists()


def _job_config(**changes: object) -> dict[str, object]:
    job: dict[str, object] = {
        "name": "their-name",
        "working_dir": "workdir",
        "resources": {"cloud": "gcp", "accelerators": "A100:1"},
        "envs": {"FOO": "bar"},
        "file_mounts": {"~/data/train.jsonl": "data/train.jsonl"},
        "storage_mounts": {"/bucket": {"source": "gs://my-bucket", "store": "gcs"}},
        "setup": "pip install oumi",
        "run": "oumi train -c configs/train.yaml",
    }
    job.update(changes)
    return job


async def test_a_given_job_config_is_launched_as_written_with_our_identity(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    (project / "workdir").mkdir()
    (project / "workdir" / "script.py").write_text("print('hi')\n")
    write_yaml(project / "jobs" / "gcp.yaml", _job_config())

    result = await manager.run(
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
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    write_yaml(project / "jobs" / "gcp.yaml", _job_config())
    with pytest.raises(InvalidArgumentError, match="conflicts with the job config") as raised:
        await manager.run("jobs/gcp.yaml", "train", str(project), cloud="aws")
    assert raised.value.field == "cloud" and raised.value.next_step

    write_yaml(project / "jobs" / "nocloud.yaml", _job_config(resources={"accelerators": "A100"}))
    with pytest.raises(InvalidArgumentError, match=r"no resources\.cloud") as raised:
        await manager.run("jobs/nocloud.yaml", "train", str(project))
    assert "cloud" in raised.value.next_step
    assert engine.calls == []


# -- launch ----------------------------------------------------------------------------


async def test_launch_returns_at_once_then_the_launcher_is_the_source_of_truth(
    manager: JobManager, engine: RecordingLauncher, project: Path
) -> None:
    engine.up_gate = threading.Event()
    started = time.monotonic()
    result = await manager.run(
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
    record = manager.registry.get(result.job_id)
    assert record.backend == "launcher" and record.cloud == "gcp"
    assert record.launcher_job_id == "" and record.cluster_name == ""
    assert "HF_TOKEN" in record.env_names
    stored = [path for path in manager.registry.path.parent.rglob("*") if path.is_file()]
    assert stored and not [path for path in stored if b"hf_real_token" in path.read_bytes()]
    assert (await manager.status(result.job_id)).state == "launching"
    listed = await manager.list_jobs()
    assert [(job.job_id, job.state) for job in listed.jobs] == [(result.job_id, "launching")]
    assert await _until(lambda: bool(engine.calls_named("up")))
    sent = engine.job_configs[0]
    assert sent["name"] == result.job_id and sent["working_dir"] == str(project)
    assert sent["envs"]["HF_TOKEN"] == "hf_real_token"  # masked only where it is shown

    engine.up_gate.set()
    assert await _until(lambda: not manager.runtimes)
    record = manager.registry.get(result.job_id)
    assert record.launcher_job_id == "1" and record.cluster_name == "gcp-cluster-1"
    status = await manager.status(result.job_id)
    assert status.state == "running" and status.launcher_job_id == "1"
    assert status.cluster_name == "gcp-cluster-1"
    assert ("status", "gcp", "gcp-cluster-1", "1") in engine.calls
    assert len(manager.runtimes) == 0
    assert engine.clouds_by_name["gcp"].jobs[0].name == result.job_id


async def test_a_failing_up_fails_the_job_with_the_launch_error(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    engine.up_error = "quota exceeded for A100 in us-central1"
    result = await manager.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    assert result.state == "launching"
    assert await _until(lambda: not manager.runtimes)
    status = await manager.status(result.job_id)
    assert status.state == "failed" and status.terminal
    assert "quota exceeded for A100" in status.reason
    assert manager.registry.get(result.job_id).launcher_job_id == ""


# -- cancel ------------------------------------------------------------------------------


async def test_cancel_during_up_cancels_what_up_started(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    engine.up_gate = threading.Event()
    result = await manager.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    assert await _until(lambda: bool(engine.calls_named("up")))

    started = time.monotonic()
    cancelled = await manager.cancel(result.job_id)
    assert time.monotonic() - started < 2.0
    assert cancelled.action == "cancelled" and cancelled.state == "cancelled"
    assert cancelled.previous_state == "launching"
    assert engine.calls_named("cancel") == []  # nothing to cancel yet

    engine.up_gate.set()
    assert await _until(lambda: bool(engine.calls_named("cancel"))), "orphan left running"
    record = manager.registry.get(result.job_id)
    assert engine.calls_named("cancel") == [
        ("cancel", "gcp", record.cluster_name, record.launcher_job_id)
    ]
    assert record.launcher_job_id == "1"
    assert (await manager.status(result.job_id)).state == "cancelled"
    again = await manager.cancel(result.job_id)
    assert again.action == "already_finished"
    assert len(engine.calls_named("cancel")) == 1


async def test_cancel_after_launch_checks_the_live_state_first(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    finished = await _launch(manager, project)
    engine.set_status("gcp", finished.launcher_job_id, "SUCCEEDED", "completed", True)
    result = await manager.cancel(finished.job_id)
    assert result.action == "already_finished" and result.state == "completed"
    assert engine.calls_named("cancel") == []

    running = await _launch(manager, project)
    assert (await manager.status(running.job_id)).state == "running"
    result = await manager.cancel(running.job_id)
    assert engine.calls_named("cancel") == [
        ("cancel", "gcp", running.cluster_name, running.launcher_job_id)
    ]
    assert result.action == "cancelled"
    assert result.previous_state == "running" and result.state == "cancelled"
    assert result.signals_sent == ["launcher.cancel"]
    assert (await manager.status(running.job_id)).state == "cancelled"


async def test_a_hanging_cancel_is_a_time_out_that_says_how_to_check(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    record = await _launch(manager, project)
    engine.cancel_hang_s = CANCEL_S + 2.0
    started = time.monotonic()
    with pytest.raises(EngineTimeoutError) as raised:
        await manager.cancel(record.job_id)
    elapsed = time.monotonic() - started
    assert elapsed < CANCEL_S + MARGIN_S, elapsed
    assert "may still be running" in raised.value.message
    assert f"get_job_status(job_id='{record.job_id}')" in raised.value.next_step
    assert "oumi launch cancel" in raised.value.next_step
    assert engine.calls_named("cancel") == [
        ("cancel", "gcp", record.cluster_name, record.launcher_job_id)
    ]


# -- list_jobs -----------------------------------------------------------------------------


async def test_a_failing_cloud_is_a_warning_and_hides_no_other_cloud(
    settings: Settings, project: Path
) -> None:
    engine = FakeLauncher({"gcp": FakeCloud(error="credentials expired"), "aws": FakeCloud()})
    engine.add_job("aws", "their-cluster", "7", "sky-job", "RUNNING")
    manager = _manager(settings, engine)
    listed = await manager.list_jobs()
    assert [(job.cloud, job.launcher_job_id, job.job_id) for job in listed.jobs] == [
        ("aws", "7", "")
    ]
    assert listed.jobs[0].state == "running" and listed.jobs[0].name == "sky-job"
    assert [warning.cloud for warning in listed.warnings] == ["gcp"]
    assert "credentials expired" in listed.warnings[0].error
    assert listed.warnings[0].next_step
    assert listed.clouds_listed == ["aws"]
    await manager.close()


async def test_a_hanging_cloud_is_a_warning_within_the_time_limit(
    settings: Settings, project: Path
) -> None:
    engine = FakeLauncher({"gcp": FakeCloud(hang_s=LIST_S + 3.0), "aws": FakeCloud()})
    engine.add_job("aws", "their-cluster", "7", "sky-job", "RUNNING")
    manager = _manager(settings, engine)
    started = time.monotonic()
    listed = await manager.list_jobs()
    elapsed = time.monotonic() - started
    assert elapsed < LIST_S + MARGIN_S, elapsed
    assert [warning.cloud for warning in listed.warnings] == ["gcp"]
    assert f"{LIST_S:g} s" in listed.warnings[0].error
    assert [job.launcher_job_id for job in listed.jobs] == ["7"]
    assert "did not answer" in listed.next_step
    await manager.close()


async def test_only_the_configured_clouds_are_listed(settings: Settings) -> None:
    engine = FakeLauncher({"gcp": FakeCloud(hang_s=LIST_S + 3.0), "aws": FakeCloud()})
    engine.add_job("aws", "their-cluster", "7", "sky-job", "RUNNING")
    manager = _manager(replace(settings, listed_clouds=("aws",)), engine)
    started = time.monotonic()
    listed = await manager.list_jobs()
    assert time.monotonic() - started < LIST_S + MARGIN_S  # gcp hangs, but is not asked
    assert listed.warnings == [] and listed.clouds_listed == ["aws"]
    assert [job.launcher_job_id for job in listed.jobs] == ["7"]
    assert {call[1] for call in engine.calls_named("status")} == {"aws"}
    await manager.close()


async def test_list_merges_our_jobs_with_foreign_ones_filters_and_caches(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    ours = await _launch(manager, project)
    engine.add_job("aws", "their-cluster", "7", "sky-job", "SUCCEEDED")
    engine.add_job("gcp", "other-cluster", "3", "by-hand", "RUNNING")

    before = _status_calls(engine)
    listed = await manager.list_jobs()
    assert _status_calls(engine) > before  # the clouds were asked
    rows = [(job.job_id, job.cloud, job.cluster_name, job.launcher_job_id) for job in listed.jobs]
    assert rows[0] == (ours.job_id, "gcp", ours.cluster_name, ours.launcher_job_id)
    assert sorted(rows[1:]) == [
        ("", "aws", "their-cluster", "7"),
        ("", "gcp", "other-cluster", "3"),
    ]
    mine = [job for job in listed.jobs if job.launcher_job_id == ours.launcher_job_id]
    assert len(mine) == 1
    assert mine[0].command == "train" and mine[0].config_path == str(project / CONFIG)
    assert mine[0].state == "running"
    assert listed.counts == {"running": 2, "completed": 1}
    assert listed.warnings == []

    calls = _status_calls(engine)
    running = await manager.list_jobs("running")
    assert {job.launcher_job_id for job in running.jobs} == {ours.launcher_job_id, "3"}
    completed = await manager.list_jobs("completed")
    assert [(job.job_id, job.launcher_job_id) for job in completed.jobs] == [("", "7")]
    finished = await manager.list_jobs("finished")
    assert finished.total == 1
    active = await manager.list_jobs("active", limit=1)
    assert active.total == 2 and active.shown == 1 and "1 more" in active.next_step
    assert _status_calls(engine) == calls  # all within the cache window


# -- get_job_status by launcher job id ---------------------------------------------------


async def test_status_by_launcher_id_for_foreign_and_our_jobs(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    engine.add_job("aws", "their-cluster", "42", "someone-else", "RUNNING")
    foreign = await manager.status("42", cloud="aws")
    assert foreign.job_id == "" and foreign.state == "running"
    assert foreign.cloud == "aws" and foreign.cluster_name == "their-cluster"
    assert foreign.launcher_job_id == "42"
    assert "not started by this server" in foreign.next_step

    ours = await _launch(manager, project)
    found = await manager.status(ours.launcher_job_id, cloud="gcp", cluster_name=ours.cluster_name)
    assert found.job_id == ours.job_id and found.command == "train"
    assert found.config_path == str(project / CONFIG) and found.state == "running"
    assert (await manager.status(ours.launcher_job_id, cloud="GCP")).job_id == ours.job_id

    with pytest.raises(NotFoundError, match="knows no job '999' on gcp"):
        await manager.status("999", cloud="gcp")
    with pytest.raises(NotFoundError, match="gcp/nowhere"):
        await manager.status(ours.launcher_job_id, cloud="gcp", cluster_name="nowhere")

    engine.add_job("aws", "cluster-a", "5", "a", "RUNNING")
    engine.add_job("aws", "cluster-b", "5", "b", "SUCCEEDED")
    with pytest.raises(InvalidArgumentError, match="cluster-a, cluster-b") as raised:
        await manager.status("5", cloud="aws")
    assert raised.value.field == "cluster_name"
    picked = await manager.status("5", cloud="aws", cluster_name="cluster-b")
    assert picked.cluster_name == "cluster-b" and picked.state == "completed" and picked.terminal


async def test_a_terminal_state_is_final(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    record = await _launch(manager, project)
    engine.set_status("gcp", record.launcher_job_id, "SUCCEEDED", "completed", True)
    assert (await manager.status(record.job_id)).state == "completed"
    engine.set_status("gcp", record.launcher_job_id, "RUNNING", "running", False)
    after = await manager.status(record.job_id)
    assert after.state == "completed" and after.terminal
    listed = await manager.list_jobs()
    assert [job.state for job in listed.jobs if job.job_id == record.job_id] == ["completed"]


# -- logs ------------------------------------------------------------------------------------


async def test_cloud_logs_come_from_the_launcher_paged_and_saved(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    record = await _launch(manager, project)
    engine.logs_text = "".join(f"step {i}\n" for i in range(30))

    tail = await manager.logs(record.job_id, lines=5)
    assert engine.calls_named("logs") == [
        ("logs", "gcp", record.cluster_name, record.launcher_job_id)
    ]
    assert len(tail.chunks) == 1
    chunk = tail.chunks[0]
    assert chunk.text.splitlines() == [f"step {i}" for i in range(25, 30)]
    saved = Path(chunk.path)
    assert saved.is_relative_to(Path(record.run_dir))
    assert saved.read_text() == engine.logs_text
    assert tail.state == "running"

    first = await manager.logs(record.job_id, lines=10, stream="stdout", offset=0)
    assert first.chunks[0].text.splitlines() == [f"step {i}" for i in range(10)]
    assert first.next_offset == first.chunks[0].end_offset
    second = await manager.logs(record.job_id, lines=10, stream="stdout", offset=first.next_offset)
    assert second.chunks[0].text.splitlines() == [f"step {i}" for i in range(10, 20)]

    # The call next_step suggests is one get_job_logs accepts, and it reads on.
    suggested = re.search(r"stream='(\w+)', offset=(\d+)", second.next_step)
    assert suggested is not None, second.next_step
    third = await manager.logs(
        record.job_id, lines=10, stream=suggested[1], offset=int(suggested[2])
    )
    assert third.chunks[0].text.splitlines() == [f"step {i}" for i in range(20, 30)]
    assert len(engine.calls_named("logs")) == 4


# -- pre-flight hints for cloud runs ---------------------------------------------------------


async def test_preflight_warns_about_local_files_and_credentials_left_behind(
    manager: JobManager,
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = tmp_path / "outside" / "service-account.json"
    credentials.parent.mkdir()
    credentials.write_text("{}")
    inside = project / "data" / "train.jsonl"
    monkeypatch.setenv("HF_TOKEN", "hf_local_only")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

    result = await manager.run(
        CONFIG,
        "train",
        str(project),
        cloud="gcp",
        envs={"GOOGLE_APPLICATION_CREDENTIALS": str(credentials), "DATA": str(inside)},
    )
    messages = [warning.message for warning in result.checks.warnings]
    assert any("Set locally but not passed to the job: HF_TOKEN." in m for m in messages), messages
    outside = [m for m in messages if "outside the working dir" in m]
    assert len(outside) == 1 and "GOOGLE_APPLICATION_CREDENTIALS" in outside[0]
    assert "DATA" not in outside[0]  # inside the project: it is synced

    passed = await manager.run(
        CONFIG, "train", str(project), cloud="gcp", envs={"HF_TOKEN": "hf_local_only"}
    )
    assert not [w for w in passed.checks.warnings if "not passed" in w.message]


def test_env_hints_read_the_given_environment(project: Path, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("secret")
    ctx = build_context(CONFIG, str(project), "aws", envs={"KEY_FILE": str(key)})
    hints = env_hints(ctx, environ={"HF_TOKEN": "x", "WANDB_API_KEY": "y", "PATH": "/bin"})
    messages = [hint.message for hint in hints]
    assert len(messages) == 2, messages
    assert "HF_TOKEN, WANDB_API_KEY" in messages[0]
    assert "KEY_FILE" in messages[1]
    assert env_hints(ctx, environ={}) == [hints[1]]
    assert env_hints(build_context(CONFIG, str(project), "aws"), environ={}) == []


# -- through the MCP client --------------------------------------------------------------------


@pytest.fixture
async def cloud_client(
    settings: Settings, engine: FakeLauncher
) -> AsyncIterator[tuple[Client, FakeLauncher]]:
    fast = replace(
        settings,
        cloud_status_timeout_s=LIST_S,
        launcher_cancel_timeout_s=CANCEL_S,
    )
    server = build_server(services=_services(fast, engine))
    async with Client(server) as connected:
        yield connected, engine


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text
    return dict(result.structured_content or {})


async def test_cloud_arguments_in_the_tool_schemas(
    cloud_client: tuple[Client, FakeLauncher],
) -> None:
    client, _ = cloud_client
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    run = tools["run_oumi_job"].input_schema["properties"]
    assert {"cloud", "cluster_name", "accelerators", "disk_size_gb", "use_spot"} <= set(run)
    assert run["use_spot"]["type"] == "boolean" and run["disk_size_gb"]["type"] == "integer"
    status = tools["get_job_status"].input_schema
    assert {"job_id", "cloud", "cluster_name"} <= set(status["properties"])
    assert status.get("required") == ["job_id"]
    output = tools["run_oumi_job"].output_schema
    assert output is not None
    assert {"job_config", "sync", "reminder"} <= set(output["properties"])


async def test_cloud_dry_run_launch_and_status_through_the_client(
    cloud_client: tuple[Client, FakeLauncher], project: Path
) -> None:
    client, engine = cloud_client
    arguments = {
        "config_path": CONFIG,
        "command": "train",
        "client_cwd": str(project),
        "cloud": "gcp",
        "accelerators": "H100:8",
        "disk_size_gb": 512,
        "use_spot": True,
        "envs": {"WANDB_API_KEY": "wandb-secret"},
    }
    dry = _structured(await client.call_tool("run_oumi_job", arguments))
    assert dry["dry_run"] and not dry["launched"]
    assert dry["job_config"]["resources"] == {
        "cloud": "gcp",
        "accelerators": "H100:8",
        "disk_size": 512,
        "use_spot": True,
    }
    assert dry["job_config"]["envs"]["WANDB_API_KEY"] == "***"
    assert dry["sync"]["files"] >= 2 and "down_cluster" in dry["reminder"]
    assert engine.calls_named("up") == []

    launched = _structured(await client.call_tool("run_oumi_job", {**arguments, "dry_run": False}))
    assert launched["launched"] and launched["state"] == "launching"
    assert await _until(lambda: engine.up_returned.is_set())
    job_id = launched["job_id"]
    assert engine.clouds_by_name["gcp"].jobs[0].name == job_id

    async def state() -> dict[str, Any]:
        return _structured(await client.call_tool("get_job_status", {"job_id": job_id}))

    deadline = time.monotonic() + 5
    status = await state()
    while status["state"] != "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        status = await state()
    assert status["state"] == "running" and status["launcher_job_id"] == "1"

    engine.add_job("aws", "their-cluster", "9", "by-hand", "RUNNING")
    foreign = _structured(
        await client.call_tool(
            "get_job_status", {"job_id": "9", "cloud": "aws", "cluster_name": "their-cluster"}
        )
    )
    assert foreign["job_id"] == "" and foreign["cluster_name"] == "their-cluster"
    by_launcher_id = _structured(
        await client.call_tool("get_job_status", {"job_id": "1", "cloud": "gcp"})
    )
    assert by_launcher_id["job_id"] == job_id

    cancelled = _structured(await client.call_tool("cancel_job", {"job_id": job_id}))
    assert cancelled["action"] == "cancelled" and cancelled["state"] == "cancelled"
    assert engine.calls_named("cancel") == [("cancel", "gcp", "gcp-cluster-1", "1")]
    missing = await client.call_tool("get_job_status", {"job_id": "404", "cloud": "gcp"})
    assert missing.is_error and "Next step:" in missing.content[0].text  # type: ignore[union-attr]


async def test_polling_a_job_on_a_hanging_cloud_adds_no_threads(settings: Settings) -> None:
    engine = FakeLauncher({"gcp": FakeCloud(hang_s=3.0)})
    engine.add_job("gcp", "their-cluster", "7", "sky-job", "RUNNING")
    manager = _manager(settings, engine, replace(LIMITS, status_s=0.2))
    for _ in range(5):
        with pytest.raises(EngineTimeoutError):
            await manager.status("7", cloud="gcp", cluster_name="their-cluster")
    # Five polls, one status call: the later polls joined the call still in flight.
    assert len(engine.calls_named("status")) == 1
    await manager.close()


async def test_logs_before_any_output_say_to_come_back(
    manager: JobManager, engine: FakeLauncher, project: Path
) -> None:
    engine.up_gate = threading.Event()  # still launching: nothing to read yet
    launched = await manager.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    logs = await manager.logs(launched.job_id)
    assert logs.chunks == [] and logs.state == "launching"
    assert "No output yet" in logs.next_step and launched.job_id in logs.next_step
    engine.up_gate.set()


class ForgetfulRegistry(Registry):
    """A registry that is busy exactly when the launch records its launcher identity."""

    def set_launcher_identity(self, job_id: str, cluster_name: str, launcher_job_id: str) -> None:
        raise sqlite3.OperationalError("database is locked")


async def test_a_launch_the_registry_missed_is_still_found_through_its_run_dir(
    settings: Settings, engine: FakeLauncher, project: Path
) -> None:
    services = _services(settings, engine)
    manager = JobManager(
        settings,
        validation=services.validation,
        preflight=services.preflight,
        registry=ForgetfulRegistry(settings.state_dir),
        launcher=lambda: engine,
        launcher_limits=LIMITS,
    )
    launched = await manager.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    assert await _until(lambda: not manager.runtimes), "the launch never settled"
    assert manager.registry.get(launched.job_id).launcher_job_id == ""
    status = await manager.status(launched.job_id)
    assert status.state == "running" and status.reason.startswith("gcp/"), status
    cancelled = await manager.cancel(launched.job_id)
    assert cancelled.state == "cancelled", cancelled
    assert engine.calls_named("cancel"), "the launcher job was not cancelled"
    await manager.close()
