"""validate_config with Oumi's own classes, on real files in tmp projects."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.validation.documents import ConfigFileError
from oumi_mcp_server.validation.service import validate_config_file
from tests.conftest import LIBRARY_DIR
from tests.project import make_project, training_config, write_yaml

# One real library recipe per config kind, each valid under Oumi 0.9.
RECIPES = {
    "training": "recipes/smollm/sft/135m/train.yaml",
    "evaluation": "recipes/smollm/evaluation/135m/eval.yaml",
    "inference": "recipes/smollm/inference/135m_infer.yaml",
    "job": "recipes/smollm/sft/135m/gcp_job.yaml",
    "synthesis": "examples/synthesis/instruction_following_synth.yaml",
    "analyze": "examples/analyze/analyze.yaml",
    "judge": "projects/judges/generic/safety.yaml",
    "quantization": "examples/quantization/awq_quantization_config.yaml",
    "tuning": "recipes/smollm/tuning/135m/tune.yaml",
    "async_evaluation": "recipes/gpt2/evaluation/async_eval.yaml",
}

# A misspelt nested key per kind: (top-level section, bad key) -> expected dotted path.
TYPOS = {
    "training": ("training", "max_stepz", "training.max_stepz"),
    "evaluation": ("model", "model_nam", "model.model_nam"),
    "inference": ("generation", "max_new_tokenz", "generation.max_new_tokenz"),
    "job": ("resources", "clowd", "resources.clowd"),
    "synthesis": ("strategy_params", "input_dataz", "strategy_params.input_dataz"),
    "judge": ("judge_params", "prompt_templat", "judge_params.prompt_templat"),
    "quantization": ("model", "model_nme", "model.model_nme"),
    "tuning": ("tuning", "n_trialz", "tuning.n_trialz"),
    "async_evaluation": ("evaluation", "taskz", "evaluation.taskz"),
}


def _copy_recipe(kind: str, project: Path) -> Path:
    source = LIBRARY_DIR / RECIPES[kind]
    if not source.exists():
        pytest.skip(f"{RECIPES[kind]} is not in the library copy")
    target = project / "configs" / source.name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


@pytest.mark.parametrize("kind", sorted(RECIPES))
def test_a_library_recipe_of_each_kind_is_valid_and_its_kind_inferred(
    kind: str, tmp_path: Path
) -> None:
    config = _copy_recipe(kind, tmp_path)
    report = validate_config_file(str(config), str(tmp_path), "auto")
    assert report.kind == kind
    assert report.kind_inferred and report.kind_reason.startswith(f"inferred '{kind}'")
    assert report.valid, report.errors


@pytest.mark.parametrize("kind", sorted(TYPOS))
def test_a_typo_is_reported_with_its_field_path_and_a_suggestion(kind: str, tmp_path: Path) -> None:
    import yaml

    config = _copy_recipe(kind, tmp_path)
    data = yaml.safe_load(config.read_text())
    section, key, dotted = TYPOS[kind]
    if not isinstance(data.get(section), dict):
        data[section] = {}
    data[section][key] = 1
    write_yaml(config, data)
    report = validate_config_file(str(config), str(tmp_path), kind)
    assert not report.valid
    assert dotted in [problem.field for problem in report.errors]
    problem = next(p for p in report.errors if p.field == dotted)
    assert "Did you mean" in problem.hint or "Valid fields" in problem.hint


def test_wrong_type_is_reported_after_unknown_keys(tmp_path: Path) -> None:
    make_project(tmp_path)
    data = training_config(max_steps="ten")
    data["model"]["model_nme"] = "x"  # type: ignore[index]
    write_yaml(tmp_path / "bad.yaml", data)
    report = validate_config_file("bad.yaml", str(tmp_path), "training")
    fields = [problem.field for problem in report.errors]
    assert fields == ["model.model_nme", "training.max_steps"]
    assert "Did you mean 'model_name'?" in report.errors[0].hint


def test_relative_dataset_resolves_against_client_cwd_not_the_server_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_project(tmp_path / "project")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    report = validate_config_file("configs/train.yaml", str(project), "auto")
    assert report.valid, report.errors
    assert report.warnings == []
    assert report.config_path == str(project / "configs" / "train.yaml")


def test_missing_dataset_is_a_warning_and_checking_goes_on(tmp_path: Path) -> None:
    write_yaml(tmp_path / "train.yaml", training_config("data/missing.jsonl", max_steps="x"))
    report = validate_config_file("train.yaml", str(tmp_path), "auto")
    assert [problem.field for problem in report.errors] == ["training.max_steps"]
    write_yaml(tmp_path / "train.yaml", training_config("data/missing.jsonl"))
    report = validate_config_file("train.yaml", str(tmp_path), "auto")
    assert report.valid
    assert str(tmp_path / "data" / "missing.jsonl") in report.warnings[0].message


def test_semantic_errors_from_oumi_are_reported(tmp_path: Path) -> None:
    write_yaml(
        tmp_path / "train.yaml", {"model": {"model_name": "x"}, "training": {"max_steps": 1}}
    )
    report = validate_config_file("train.yaml", str(tmp_path), "auto")
    assert not report.valid
    assert "training dataset" in report.errors[0].message


def test_explicit_task_type_wins_and_aliases_work(tmp_path: Path) -> None:
    make_project(tmp_path)
    report = validate_config_file("configs/train.yaml", str(tmp_path), "train")
    assert report.kind == "training" and not report.kind_inferred
    with pytest.raises(InvalidArgumentError, match="task_type"):
        validate_config_file("configs/train.yaml", str(tmp_path), "painting")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "is empty"),
        ("# only a comment\n", "only comments"),
        ("- a\n- b\n", "not a mapping"),
        ("model:\n  model_name: [unclosed\n", "at line 3, column 1"),
        ("model:\n\tmodel_name: x\n", "YAML syntax error"),
    ],
)
def test_unusable_files_get_their_own_message(tmp_path: Path, content: str, expected: str) -> None:
    (tmp_path / "c.yaml").write_text(content)
    with pytest.raises(ConfigFileError, match=expected):
        validate_config_file("c.yaml", str(tmp_path), "auto")


def test_bad_paths_are_reported(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="Config file not found"):
        validate_config_file("nope.yaml", str(tmp_path), "auto")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InvalidArgumentError, match="is a directory"):
        validate_config_file("dir.yaml", str(tmp_path), "auto")
    with pytest.raises(InvalidArgumentError, match="relative"):
        validate_config_file("c.yaml", "relative/project", "auto")
    with pytest.raises(InvalidArgumentError, match="does not exist"):
        validate_config_file("c.yaml", str(tmp_path / "missing"), "auto")


def test_unknown_top_level_keys_cannot_be_classified(tmp_path: Path) -> None:
    write_yaml(tmp_path / "c.yaml", {"compute_environment": "LOCAL", "num_processes": 8})
    with pytest.raises(InvalidArgumentError, match="cannot tell which kind") as raised:
        validate_config_file("c.yaml", str(tmp_path), "auto")
    assert "Pass task_type explicitly" in raised.value.next_step
