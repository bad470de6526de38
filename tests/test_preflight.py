"""pre_flight_check on real files: paths against client_cwd, cloud reachability, time limits."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from oumi_mcp_server.environment.clouds import CloudChecker
from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.preflight.models import PreflightReport
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import Settings
from tests.project import make_project, training_config, write_yaml

pytestmark = pytest.mark.anyio


def _service(
    settings: Settings, enabled: list[str] | None = None, **kw: object
) -> PreflightService:
    probe = kw.pop("probe", None) or (lambda: list(enabled or []))
    checker = CloudChecker(probe, timeout_s=5, cache_s=300)  # type: ignore[arg-type]
    return PreflightService(settings, cloud_checker=checker, library=LibraryService(settings), **kw)  # type: ignore[arg-type]


def _row(report: PreflightReport, field: str) -> str:
    return next(row.status for row in report.paths if row.field == field)


DATASET = "data.train.datasets[0].dataset_path"


async def test_relative_dataset_is_ok_against_client_cwd_from_anywhere(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path / "project")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    report = await _service(settings).check("configs/train.yaml", str(project))
    assert _row(report, DATASET) == "ok"
    assert next(r.resolved for r in report.paths if r.field == DATASET) == str(
        project / "data" / "train.jsonl"
    )
    assert _row(report, "training.output_dir") == "output_ok"
    assert not report.blocking, report.errors
    assert report.target == "local" and report.hardware is not None


async def test_missing_local_input_blocks_a_local_run(settings: Settings, tmp_path: Path) -> None:
    write_yaml(tmp_path / "train.yaml", training_config("data/nope.jsonl"))
    report = await _service(settings).check("train.yaml", str(tmp_path))
    assert report.blocking
    assert _row(report, DATASET) == "missing"
    assert any("Input not found" in error.message for error in report.errors)


async def test_path_outside_the_working_dir_is_not_reachable_on_the_vm(
    settings: Settings, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    make_project(tmp_path / "shared-data")
    write_yaml(project / "train.yaml", training_config("../shared-data/data/train.jsonl"))
    report = await _service(settings, ["gcp"]).check("train.yaml", str(project), "gcp")
    assert _row(report, DATASET) == "not_reachable_on_vm"
    assert report.blocking
    absolute = tmp_path / "shared-data" / "data" / "train.jsonl"
    write_yaml(project / "train.yaml", training_config(str(absolute)))
    report = await _service(settings, ["gcp"]).check("train.yaml", str(project), "gcp")
    assert _row(report, DATASET) == "not_reachable_on_vm"


async def test_relative_path_missing_locally_is_a_surfaced_warning_for_cloud(
    settings: Settings, tmp_path: Path
) -> None:
    write_yaml(tmp_path / "train.yaml", training_config("data/made_by_setup.jsonl"))
    report = await _service(settings, ["gcp"]).check("train.yaml", str(tmp_path), "gcp")
    assert _row(report, DATASET) == "not_found_warning"
    assert any("made_by_setup.jsonl" in w.message for w in report.warnings)
    assert not report.blocking, report.errors
    assert _row(report, "training.output_dir") == "output_on_vm"
    assert any("ephemeral" in w.message for w in report.warnings)


async def test_a_path_excluded_by_skyignore_blocks(settings: Settings, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / ".skyignore").write_text("data/\n")
    report = await _service(settings, ["gcp"]).check("configs/train.yaml", str(project), "gcp")
    assert _row(report, DATASET) == "excluded_by_skyignore"
    assert report.blocking


async def test_a_symlink_leaving_the_working_dir_is_not_reachable(
    settings: Settings, tmp_path: Path
) -> None:
    outside = make_project(tmp_path / "outside")
    project = tmp_path / "project"
    project.mkdir()
    os.symlink(outside / "data", project / "data")
    write_yaml(project / "train.yaml", training_config())
    report = await _service(settings, ["gcp"]).check("train.yaml", str(project), "gcp")
    assert _row(report, DATASET) == "not_reachable_on_vm"


async def test_a_disabled_cloud_blocks_and_an_enabled_one_passes(
    settings: Settings, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    blocked = await _service(settings, ["aws"]).check("configs/train.yaml", str(project), "gcp")
    assert blocked.blocking and blocked.cloud_readiness is not None
    assert blocked.cloud_readiness.enabled is False
    ready = await _service(settings, ["gcp"]).check("configs/train.yaml", str(project), "gcp")
    assert ready.cloud_readiness is not None and ready.cloud_readiness.enabled
    assert not ready.blocking, ready.errors


async def test_suggestions_follow_the_config_task_not_the_cloud(
    settings: Settings, tmp_path: Path
) -> None:
    dpo = training_config("data/nope.jsonl", trainer_type="TRL_DPO", max_stepz=1)
    write_yaml(tmp_path / "dpo.yaml", dpo)
    report = await _service(settings, ["gcp"]).check("dpo.yaml", str(tmp_path), "gcp")
    assert report.suggested_configs
    assert all("/dpo/" in item.path for item in report.suggested_configs)
    write_yaml(
        tmp_path / "eval.yaml", {"model": {"model_name": "x"}, "tasks": [{"task_nam": "mmlu"}]}
    )
    report = await _service(settings).check("eval.yaml", str(tmp_path))
    assert report.blocking
    assert report.suggested_configs
    assert all("eval" in item.path for item in report.suggested_configs)


async def test_hf_offline_degrades_to_a_warning_quickly(settings: Settings, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    started = time.monotonic()
    report = await _service(settings).check("configs/train.yaml", str(project))
    assert time.monotonic() - started < 10
    assert report.hf is not None and report.hf.offline
    assert report.hf.repos == {"HuggingFaceTB/SmolLM2-135M-Instruct": "unverified"}
    assert any(w.check == "hf" for w in report.warnings)
    assert not report.blocking


async def test_a_hanging_check_is_a_warning_within_the_limits(
    settings: Settings, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    release = threading.Event()

    def hanging_probe() -> list[str]:
        release.wait(30)
        return ["gcp"]

    fast = replace(settings, preflight_check_timeout_s=0.5, preflight_total_timeout_s=3.0)
    started = time.monotonic()
    report = await _service(fast, probe=hanging_probe).check(
        "configs/train.yaml", str(project), "gcp"
    )
    elapsed = time.monotonic() - started
    release.set()
    assert elapsed < 3.5
    assert any(w.check == "cloud" and "0.5 s" in w.message for w in report.warnings)


async def test_local_credentials_that_stay_behind_are_warned_about(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path)
    monkeypatch.setenv("WANDB_API_KEY", "secret")
    report = await _service(settings, ["gcp"]).check("configs/train.yaml", str(project), "gcp")
    assert any("WANDB_API_KEY" in w.message for w in report.warnings)


async def test_job_config_paths_mounts_and_scripts(settings: Settings, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    (project / "scripts").mkdir()
    (project / "scripts" / "prepare.sh").write_text("echo hi\n")
    write_yaml(
        project / "job.yaml",
        {
            "name": "smoke",
            "resources": {"cloud": "gcp", "accelerators": "A100:1"},
            "working_dir": ".",
            "file_mounts": {"/remote/data": str(tmp_path / "outside.jsonl")},
            "setup": "bash scripts/prepare.sh",
            "run": "oumi train -c configs/train.yaml",
        },
    )
    (tmp_path / "outside.jsonl").write_text("{}\n")
    report = await _service(settings, ["gcp"]).check("job.yaml", str(project))
    assert report.kind == "job" and report.target == "gcp"
    statuses = {row.raw: row.status for row in report.paths}
    assert statuses["scripts/prepare.sh"] == "ok_synced"
    assert statuses["configs/train.yaml"] == "ok_synced"
    assert statuses["."] == "ok_synced"
    assert statuses[str(tmp_path / "outside.jsonl")] == "mounted"
    assert not report.blocking, report.errors
