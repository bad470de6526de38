"""oumi.launcher as an engine: generated job configs, the real local cloud, log streams."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.launcher.engine import (
    OumiLauncherEngine,
    canonical_state,
    read_stream_within,
)
from oumi_mcp_server.jobs.launcher.jobspec import (
    LOCAL_LOGGING_DIR_ENV,
    CloudJobRequest,
    build_job_config,
)
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings


def _request(tmp_path: Path, **overrides: object) -> CloudJobRequest:
    (tmp_path / "configs").mkdir(exist_ok=True)
    (tmp_path / "configs" / "train.yaml").write_text("model: {}\n")
    fields: dict[str, object] = {
        "job_id": "train_20261124_101500_ab12cd",
        "command": "train",
        "config_path": tmp_path / "configs" / "train.yaml",
        "client_cwd": tmp_path,
        "cloud": "gcp",
        "oumi_version": version("oumi"),
        "overrides": ["--training.max_steps", "10"],
        "accelerators": "A100:1",
    }
    fields.update(overrides)
    return CloudJobRequest(**fields)  # type: ignore[arg-type]


def test_generated_job_config_syncs_the_project_and_pins_oumi(tmp_path: Path) -> None:
    job = build_job_config(_request(tmp_path))
    assert job["working_dir"] == str(tmp_path)
    assert job["resources"] == {"cloud": "gcp", "accelerators": "A100:1"}
    assert f'"oumi[gpu]=={version("oumi")}"' in job["setup"]
    assert job["run"].splitlines()[-1] == "oumi train -c configs/train.yaml --training.max_steps 10"
    assert job["envs"][JOB_MARKER_ENV] == "train_20261124_101500_ab12cd"


def test_generated_job_config_validates_as_an_oumi_job_config(tmp_path: Path) -> None:
    import yaml
    from oumi.core.configs import JobConfig

    job = build_job_config(_request(tmp_path))
    parsed = JobConfig.from_str(yaml.safe_dump(job))
    assert parsed.working_dir == str(tmp_path)
    assert parsed.resources.cloud == "gcp"


def test_local_cloud_job_logs_to_files_and_uses_this_oumi(tmp_path: Path) -> None:
    request = _request(
        tmp_path, cloud="local", oumi_executable="/venv/bin/oumi", logs_dir=tmp_path / "logs"
    )
    job = build_job_config(request)
    assert "setup" not in job
    assert job["envs"][LOCAL_LOGGING_DIR_ENV] == str(tmp_path / "logs")
    assert job["run"].splitlines()[-1].startswith("/venv/bin/oumi train -c configs/train.yaml")


def test_a_config_outside_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("x: 1\n")
    project = tmp_path / "project"
    project.mkdir()
    with pytest.raises(InvalidArgumentError, match="outside client_cwd"):
        build_job_config(_request(project, config_path=outside))


@pytest.mark.parametrize(
    ("state", "text", "done", "expected"),
    [
        ("pending", "QUEUED", False, "queued"),
        ("running", "RUNNING", False, "running"),
        ("succeeded", "COMPLETED", True, "completed"),
        ("failed", "FAILED", True, "failed"),
        ("cancelled", "CANCELED", True, "cancelled"),
        (None, "JobStatus.FAILED_SETUP", True, "failed"),
        (None, "INIT", False, "queued"),
        (None, "SETTING_UP", False, "launching"),
        (None, "mystery", True, "completed"),
        # Slurm's sacct, as oumi 0.9 reads it: its words win for an ended job
        ("pending", "CANCELLED by 0", False, "cancelled"),
        ("running", "TIMEOUT", True, "failed"),
        ("pending", "NODE_FAIL", False, "failed"),
        ("pending", "PENDING", False, "queued"),
    ],
)
def test_launcher_states_map_to_canonical_states(
    state: str | None, text: str, done: bool, expected: str
) -> None:
    assert canonical_state(state, text, done) == expected


def test_the_real_local_cloud_runs_a_job_to_completion(tmp_path: Path) -> None:
    engine = OumiLauncherEngine()
    job = {
        "name": "engine-smoke",
        "working_dir": str(tmp_path),
        "resources": {"cloud": "local"},
        "envs": {LOCAL_LOGGING_DIR_ENV: str(tmp_path / "logs")},
        "run": "echo hello from the local cloud",
    }
    launched = engine.up(job, None)
    assert launched.cloud == "local" and launched.state in ("queued", "running")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        mine = [
            j for j in engine.status("local") if j.id == launched.id and j.name == "engine-smoke"
        ]
        if mine and mine[0].done:
            break
        time.sleep(0.5)
    assert mine and mine[0].state == "completed"
    logs = "".join(path.read_text() for path in (tmp_path / "logs").glob("*.stdout"))
    assert "hello from the local cloud" in logs


class EndlessStream:
    """A log stream that yields two lines and then blocks, like `tail -f`."""

    def __init__(self) -> None:
        self.lines = [b"step 1 loss 2.0\n", b"step 2 loss 1.5\n"]
        self.release = threading.Event()
        self.closed_by: str | None = None

    def readline(self) -> bytes:
        if self.lines:
            return self.lines.pop(0)
        self.release.wait(5)
        return b""

    def close(self) -> None:
        self.closed_by = threading.current_thread().name


def test_an_endless_log_stream_is_read_within_its_budget_and_closed_by_its_reader() -> None:
    stream = EndlessStream()
    started = time.monotonic()
    text = read_stream_within(stream, max_bytes=10_000, timeout_s=0.3)
    assert time.monotonic() - started < 1.0
    assert text == "step 1 loss 2.0\nstep 2 loss 1.5\n"
    assert stream.closed_by is None  # still blocked in readline: nobody else closes it
    stream.release.set()
    deadline = time.monotonic() + 5
    while stream.closed_by is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.closed_by == "launcher-logs"


def test_log_reading_stops_at_the_byte_budget() -> None:
    stream = EndlessStream()
    stream.lines = [b"x" * 100 + b"\n"] * 50
    text = read_stream_within(stream, max_bytes=250, timeout_s=5)
    assert len(text) == 250
    assert stream.closed_by == "launcher-logs"


@pytest.mark.anyio
async def test_list_jobs_shows_a_job_started_directly_through_oumi_launcher(
    settings: Settings, tmp_path: Path
) -> None:
    import oumi.launcher
    from oumi.core.configs import JobConfig, JobResources

    job = JobConfig(
        name="started-elsewhere",
        working_dir=str(tmp_path),
        resources=JobResources(cloud="local"),
        envs={LOCAL_LOGGING_DIR_ENV: str(tmp_path / "logs")},
        run="echo started outside the server",
    )
    _, started = oumi.launcher.up(job, "elsewhere-cluster")
    # The real engine, asked about its local cloud only.
    job_service = await Services.create(replace(settings, listed_clouds=("local",))).job_service()

    listed = await job_service.list_jobs()
    rows = [row for row in listed.jobs if row.launcher_job_id == started.id]
    rows = [row for row in rows if row.cluster_name == "elsewhere-cluster"]
    assert len(rows) == 1, listed.jobs
    assert rows[0].job_id == "" and rows[0].name == "started-elsewhere"
    assert rows[0].state in ("queued", "running", "completed")
    assert listed.clouds_listed == ["local"] and not listed.warnings

    status = await job_service.status(started.id, cloud="local", cluster_name="elsewhere-cluster")
    assert status.job_id == "" and status.launcher_job_id == started.id
    assert status.cluster_name == "elsewhere-cluster" and "not started by this server" in (
        status.next_step
    )


def test_the_cloud_names_we_accept_are_the_ones_oumi_launcher_registers() -> None:
    import oumi.launcher

    from oumi_mcp_server.jobs.catalog import CLOUD_ALIASES, LAUNCHER_CLOUDS

    assert sorted(oumi.launcher.which_clouds()) == list(LAUNCHER_CLOUDS)
    assert set(CLOUD_ALIASES.values()) <= set(LAUNCHER_CLOUDS)


def test_the_sync_summary_follows_skypilot_outside_a_git_repository(tmp_path: Path) -> None:
    from oumi_mcp_server.jobs.launcher.sync import summarize_sync
    from oumi_mcp_server.preflight.paths_check import (
        skypilot_excluded_files as excluded_by_skypilot,
    )

    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "train.jsonl").write_text("{}\n")
    (project / ".gitignore").write_text("data/\n")
    summary = summarize_sync(project, excluded_by_skypilot(project))
    assert summary.ignore_rule.startswith("none") and "git repository" in summary.ignore_rule
    assert "data/train.jsonl" in summary.sample  # SkyPilot uploads it: no git, no .gitignore
    (project / ".skyignore").write_text("data\n")
    summary = summarize_sync(project, excluded_by_skypilot(project))
    assert summary.ignore_rule == ".skyignore" and "data/train.jsonl" not in summary.sample


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("", None), ("gcp, Local", ("gcp", "local")), ("none", ())],
)
def test_oumi_mcp_clouds_picks_the_clouds_list_jobs_asks(
    raw: str, expected: tuple[str, ...] | None
) -> None:
    settings = Settings.from_env({"OUMI_MCP_CLOUDS": raw, "OUMI_MCP_LIST_CACHE_S": "0"})
    assert settings.listed_clouds == expected
    assert settings.launcher_limits().list_cache_s == 0.0
