"""relaunch_job's config patch: dotted keys with list indices, the copy's name, overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from oumi_mcp_server.diagnosis.logfile import read_log
from oumi_mcp_server.jobs.models import DiagnosisFix, JobDiagnosis
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.relaunch import (
    apply_patch,
    free_copy_path,
    key_path,
    missing_envs,
    plan_relaunch,
    replayed_overrides,
)

CONFIG = {
    "data": {"train": {"datasets": [{"dataset_name": "a", "split": "training"}, {"x": 1}]}},
    "training": {"per_device_train_batch_size": 8},
}


def test_dotted_keys_with_list_indices() -> None:
    assert key_path("data.train.datasets[0].split") == ["data", "train", "datasets", 0, "split"]
    assert key_path("a.b[1][2]") == ["a", "b", 1, 2]
    with pytest.raises(ValueError):
        key_path("data..x")


def test_the_patch_sets_nested_and_indexed_keys_on_a_copy() -> None:
    patched = apply_patch(
        CONFIG,
        {
            "data.train.datasets[0].split": "train",
            "training.gradient_accumulation_steps": 2,
            "model.chat_template": "chat_ml",  # a missing section is created
            "resources.zone": None,
        },
    )
    assert patched["data"]["train"]["datasets"][0]["split"] == "train"
    assert patched["data"]["train"]["datasets"][1] == {"x": 1}
    assert patched["training"] == {
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 2,
    }
    assert patched["model"] == {"chat_template": "chat_ml"}
    assert patched["resources"] == {"zone": None}
    assert CONFIG["data"]["train"]["datasets"][0]["split"] == "training"  # type: ignore[index]


@pytest.mark.parametrize(
    "key",
    ["data.train.datasets[5].split", "training.per_device_train_batch_size.x", "data.train[0]"],
)
def test_a_key_that_does_not_fit_the_config_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=key.split("[")[0].split(".")[0]):
        apply_patch(CONFIG, {key: 1})


def test_the_copy_takes_the_first_free_name(tmp_path: Path) -> None:
    original = tmp_path / "train.yaml"
    assert free_copy_path(tmp_path, original, "fix") == tmp_path / "train.fix-1.yaml"
    (tmp_path / "train.fix-1.yaml").write_text("")
    os.symlink(tmp_path / "nowhere", tmp_path / "train.fix-2.yaml")  # a dangling link is taken
    assert free_copy_path(tmp_path, original, "fix") == tmp_path / "train.fix-3.yaml"
    # A relaunch of a relaunch: train.fix-1.yaml's copy is train.fix-3.yaml, not fix-1.fix-1.
    assert free_copy_path(tmp_path, tmp_path / "train.fix-1.yaml", "fix").name == "train.fix-3.yaml"


def _record(**fields: object) -> JobRecord:
    base: dict[str, object] = {
        "job_id": "j",
        "command": "train",
        "config_path": "/p/train.yaml",
        "staged_config_path": "/s/config.yaml",
        "client_cwd": "/p",
        "run_dir": "/s",
        "submitted_at": 0.0,
    }
    return JobRecord(**{**base, **fields})  # type: ignore[arg-type]


def test_overrides_are_replayed_except_those_the_patch_sets() -> None:
    record = _record(
        argv=(
            "oumi",
            "train",
            "-c",
            "/s/config.yaml",
            "--training.max_steps=10",
            "--training.per_device_train_batch_size=8",
        )
    )
    patch = {"training.per_device_train_batch_size": 4}
    assert replayed_overrides(record, patch) == ["training.max_steps=10"]
    assert replayed_overrides(_record(), patch) == []


def test_only_the_callers_env_names_must_be_given_again() -> None:
    record = _record(env_names=("HF_TOKEN", "OUMI_MCP_JOB_ID", "PYTHONUNBUFFERED", "WANDB_MODE"))
    assert missing_envs(record, {"WANDB_MODE": "offline"}) == ["HF_TOKEN"]


def test_a_log_that_is_a_pipe_is_refused_without_waiting(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.log")
    with pytest.raises(OSError, match="not a regular file"):
        read_log(tmp_path / "pipe.log")


def test_a_config_from_outside_the_project_gets_its_copy_in_the_project(tmp_path: Path) -> None:
    """A job of a library config: the fixed copy is written in client_cwd, never in the
    library; a patch that already says how to resume is kept as it is."""
    project, library, run_dir = tmp_path / "project", tmp_path / "library", tmp_path / "run"
    for folder in (project, library, run_dir):
        folder.mkdir()
    (run_dir / "config.yaml").write_text("training:\n  max_steps: 10\n")
    checkpoint = project / "checkpoint-5"
    checkpoint.mkdir()
    record = _record(
        config_path=str(library / "recipes" / "sft.yaml"),
        staged_config_path=str(run_dir / "config.yaml"),
        client_cwd=str(project),
    )
    diagnosis = JobDiagnosis(
        job_id="j",
        state="failed",
        cause="time_limit",
        confidence=0.95,
        summary="The job hit its time limit.",
        fix=DiagnosisFix(
            steps=["Resume."],
            config_patch={"training.try_resume_from_last_checkpoint": True},
            resume_from=str(checkpoint),
        ),
        next_step="",
    )
    plan = plan_relaunch(record, diagnosis)
    assert plan.target == project / "sft.fix-1.yaml"
    assert plan.patch == {"training.try_resume_from_last_checkpoint": True}
    assert plan.resume_from == str(checkpoint)
    assert plan.document.data == {
        "training": {"max_steps": 10, "try_resume_from_last_checkpoint": True}
    }
    assert plan.document.text.startswith("# sft.yaml as job j ran it, with the fix for time_limit")
