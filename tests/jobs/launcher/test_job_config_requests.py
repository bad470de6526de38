"""run_oumi_job with a job config: the request must agree with its run block.

A job config runs its run block as written. Overrides reach the one oumi call
in it (shell-quoted, shown in the dry run), a command other than the one it
calls is refused, what changes nothing is listed in ``not_applied``, and the
config the run block passes to oumi is read, validated and pre-flighted with
the job config: its problems are labelled with its file and block the launch.
The real JobService and validation run; oumi.launcher is the recording fake.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.launcher.run_block import read_run_block
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs.launcher.cloud.support import (
    RecordingLauncher,
    job_service_for_engine,
    services_for,
    structured,
    until,
)
from tests.project import make_project, training_config, write_yaml

pytestmark = pytest.mark.anyio

JOB = "jobs/job.yaml"


@pytest.fixture
def engine() -> RecordingLauncher:
    return RecordingLauncher()


@pytest.fixture
async def job_service(settings: Settings, engine: RecordingLauncher) -> AsyncIterator[JobService]:
    jobs = job_service_for_engine(settings, engine)
    try:
        yield jobs
    finally:
        await jobs.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


def job_config(project: Path, run: str, **fields: Any) -> str:
    """A job config in the project, running ``run`` on gcp unless told otherwise."""
    write_yaml(project / JOB, {"resources": {"cloud": "gcp"}, **fields, "run": run})
    return JOB


def broken_training_config() -> dict[str, Any]:
    config = training_config()
    config["training"]["max_stepz"] = 3  # unknown field
    config["training"]["learning_rate"] = "fast"  # wrong type
    return config


def messages(items: list[Any]) -> list[str]:
    return [item.message for item in items]


# -- overrides ---------------------------------------------------------------------------


async def test_overrides_go_to_the_oumi_call_of_the_run_block_quoted(
    job_service: JobService, engine: RecordingLauncher, project: Path
) -> None:
    run = "set -e\noumi train \\\n  -c configs/train.yaml  # the training\necho done\n"
    config = job_config(project, run)
    arguments: dict[str, Any] = {
        "overrides": ["training.max_steps=3", "training.run_name=my run"],
        "job_name": "with-overrides",
    }

    dry = await job_service.run(config, "train", str(project), **arguments)

    assert dry.job_config is not None
    assert dry.job_config["run"] == (
        "set -e\noumi train \\\n  -c configs/train.yaml --training.max_steps=3 "
        "'--training.run_name=my run'  # the training\necho done\n"
    )
    assert dry.not_applied == [] and "not_applied" not in dry.message
    assert not dry.checks.blocking, dry.checks
    assert (project / JOB).read_text().count("max_steps") == 0  # the file is not changed

    launched = await job_service.run(config, "train", str(project), dry_run=False, **arguments)
    assert launched.launched
    assert await until(lambda: bool(engine.job_configs))
    assert engine.job_configs[0]["run"] == dry.job_config["run"]


async def test_overrides_are_refused_when_the_run_block_has_no_single_oumi_call(
    job_service: JobService, engine: RecordingLauncher, project: Path
) -> None:
    two = job_config(
        project, "oumi train -c configs/train.yaml\noumi evaluate -c configs/eval.yaml\n"
    )
    with pytest.raises(InvalidArgumentError) as raised:
        await job_service.run(two, "train", str(project), overrides=["training.max_steps=3"])
    assert raised.value.field == "overrides"
    assert "calls oumi 2 times" in raised.value.message
    assert "`oumi train` (line 1)" in raised.value.message
    assert "`oumi evaluate` (line 2)" in raised.value.message
    assert "run block" in raised.value.next_step and "config_path" in raised.value.next_step

    none = job_config(project, "python scripts/train.py\n")
    with pytest.raises(InvalidArgumentError, match="calls no oumi command") as raised:
        await job_service.run(none, "train", str(project), overrides=["training.max_steps=3"])
    assert raised.value.field == "overrides"

    hidden = job_config(project, 'CMD="oumi train"\nif true; then $CMD -c configs/x.yaml; fi\n')
    with pytest.raises(InvalidArgumentError, match="line 2 runs a command through a shell"):
        await job_service.run(hidden, "train", str(project), overrides=["training.max_steps=3"])
    result = await job_service.run(hidden, "train", str(project))
    assert any(
        m.startswith("Not checked: configs/x.yaml") and "with $CMD, a shell variable" in m
        for m in messages(result.checks.warnings)
    ), result.checks.warnings
    assert engine.calls == []


async def test_overrides_of_the_job_configs_own_fields_are_refused(
    job_service: JobService, engine: RecordingLauncher, project: Path
) -> None:
    config = job_config(project, "oumi train -c configs/train.yaml\n")
    with pytest.raises(InvalidArgumentError) as raised:
        await job_service.run(
            config,
            "train",
            str(project),
            overrides=["resources.accelerators=A100:8", "num_nodes=2", "training.max_steps=3"],
        )
    assert raised.value.field == "overrides"
    assert "num_nodes, resources.accelerators" in raised.value.message
    assert "fields of the job config itself" in raised.value.message
    assert engine.calls == []


# -- command -------------------------------------------------------------------------------


async def test_a_command_other_than_the_run_blocks_is_refused_naming_both(
    job_service: JobService, engine: RecordingLauncher, project: Path
) -> None:
    config = job_config(project, "oumi distributed torchrun -m oumi train -c configs/train.yaml\n")
    with pytest.raises(InvalidArgumentError) as raised:
        await job_service.run(config, "evaluate", str(project))
    assert raised.value.field == "command"
    assert "'evaluate'" in raised.value.message and "`oumi train`" in raised.value.message
    assert "command='train'" in raised.value.next_step
    assert engine.calls == []

    agreed = await job_service.run(config, "train", str(project))
    assert agreed.command == "train" and agreed.not_applied == []


async def test_what_changes_nothing_in_a_job_config_is_listed_as_not_applied(
    job_service: JobService, project: Path
) -> None:
    config = job_config(project, "python scripts/train.py\n")
    result = await job_service.run(
        config,
        "evaluate",
        str(project),
        resources=CloudResources(accelerators="A100:2", use_spot=True),
    )
    assert len(result.not_applied) == 2, result.not_applied
    command, resources = result.not_applied
    assert command.startswith("command='evaluate'") and "calls no oumi command" in command
    assert resources.startswith("accelerators, use_spot:") and "used as written" in resources
    assert "not_applied" in result.message
    assert result.job_config is not None and result.job_config["resources"] == {"cloud": "gcp"}


# -- the config the run block calls ---------------------------------------------------------


async def test_a_broken_training_config_in_the_run_block_blocks_the_launch(
    job_service: JobService, engine: RecordingLauncher, project: Path
) -> None:
    write_yaml(project / "configs" / "broken.yaml", broken_training_config())
    config = job_config(project, "oumi train -c configs/broken.yaml\n")

    dry = await job_service.run(config, "train", str(project))
    checks = dry.checks
    assert checks.blocking and not checks.valid, checks
    found = messages(checks.validation_errors)
    assert any(m.startswith("configs/broken.yaml: Unknown field 'max_stepz'") for m in found)
    assert any(m.startswith("configs/broken.yaml: ") and "Float" in m for m in found), found
    assert "2 of them in configs/broken.yaml" in checks.summary

    blocked = await job_service.run(config, "train", str(project), dry_run=False, job_name="nope")
    assert not blocked.launched and blocked.checks.blocking
    assert engine.calls_named("up") == []
    assert job_service.registry.find("nope") is None


async def test_the_config_resolves_against_the_jobs_working_dir(
    job_service: JobService, project: Path
) -> None:
    write_yaml(project / "workdir" / "train.yaml", broken_training_config())
    write_yaml(project / "train.yaml", training_config())  # the wrong place: not read
    config = job_config(project, "oumi train --config train.yaml\n", working_dir="workdir")

    result = await job_service.run(config, "train", str(project))
    assert result.checks.blocking
    assert any(
        m.startswith("workdir/train.yaml: ") for m in messages(result.checks.validation_errors)
    )


async def test_a_valid_config_in_the_run_block_is_validated_and_preflighted(
    job_service: JobService, project: Path
) -> None:
    write_yaml(project / "configs" / "later.yaml", training_config(dataset_path="data/later.jsonl"))
    config = job_config(
        project, "oumi train -c configs/train.yaml\noumi train -c=configs/later.yaml\n"
    )

    result = await job_service.run(config, "train", str(project))
    checks = result.checks
    assert checks.valid and not checks.blocking, checks
    assert "configs/train.yaml, configs/later.yaml" in checks.summary
    # Pre-flight saw the nested config, for the job's cloud: a missing input on the VM.
    missing = [w for w in checks.warnings if w.check == "paths" and "data/later.jsonl" in w.message]
    assert missing and missing[0].message.startswith("configs/later.yaml: "), checks.warnings


async def test_a_missing_config_blocks_unless_setup_may_create_it(
    job_service: JobService, project: Path
) -> None:
    config = job_config(project, "oumi train -c configs/absent.yaml\n")
    blocked = await job_service.run(config, "train", str(project))
    assert blocked.checks.blocking
    assert any("not found" in m for m in messages(blocked.checks.validation_errors))

    config = job_config(project, "oumi train -c configs/absent.yaml\n", setup="git pull\n")
    warned = await job_service.run(config, "train", str(project))
    assert not warned.checks.blocking
    assert any(
        m.startswith("Not checked: configs/absent.yaml") and "setup creates it" in m
        for m in messages(warned.checks.warnings)
    ), warned.checks.warnings


async def test_a_config_outside_the_project_is_refused_as_a_top_config_is(
    job_service: JobService, project: Path, tmp_path: Path
) -> None:
    canary = 987654321
    outside = write_yaml(tmp_path / "outside" / "train.yaml", training_config(max_steps=canary))
    (project / "configs" / "link.yaml").symlink_to(outside)
    with pytest.raises(InvalidArgumentError, match="outside the project"):
        await job_service.run(str(outside), "train", str(project))

    for written in ("../outside/train.yaml", "configs/link.yaml", str(outside)):
        # oumi's local cloud runs on this machine: the path is read here, if allowed.
        config = job_config(project, f"oumi train -c {written}\n", resources={"cloud": "local"})
        result = await job_service.run(config, "train", str(project))
        assert result.checks.blocking, (written, result.checks)
        refused = messages(result.checks.validation_errors)
        assert any("outside the project" in m for m in refused), refused
        assert str(canary) not in result.model_dump_json()


async def test_paths_known_only_where_the_job_runs_are_a_not_checked_warning(
    job_service: JobService, project: Path
) -> None:
    run = (
        "oumi train -c $CONFIGS/train.yaml\n"
        "oumi evaluate -c oumi://configs/recipes/smollm/evaluation/135m/eval.yaml\n"
    )
    result = await job_service.run(job_config(project, run), "train", str(project))
    assert not result.checks.blocking, result.checks
    unchecked = [m for m in messages(result.checks.warnings) if m.startswith("Not checked:")]
    assert len(unchecked) == 2, result.checks.warnings
    variable, fetched = unchecked
    assert "$CONFIGS/train.yaml" in variable and "shell variable" in variable
    assert "oumi://" in fetched and "fetches it" in fetched

    absolute = job_config(project, "oumi infer -c /home/ubuntu/infer.yaml\n")
    result = await job_service.run(absolute, "infer", str(project))
    unchecked = [m for m in messages(result.checks.warnings) if m.startswith("Not checked:")]
    assert len(unchecked) == 1 and "/home/ubuntu/infer.yaml" in unchecked[0]
    assert "gcp machine" in unchecked[0]
    # What blocks it is pre-flight's own rule for the run block's paths on a VM.
    assert [f.check for f in result.checks.preflight_errors] == ["paths"]
    assert not result.checks.validation_errors


# -- through the MCP tool ----------------------------------------------------------------


async def test_the_tool_shows_not_applied_and_refuses_a_mismatched_command(
    settings: Settings, engine: RecordingLauncher, project: Path
) -> None:
    server = build_server(services=services_for(settings, engine))
    arguments = {"config_path": JOB, "client_cwd": str(project)}
    async with Client(server) as client:
        job_config(project, "echo no oumi here\n")
        dry = structured(await client.call_tool("run_oumi_job", {**arguments, "command": "train"}))
        assert dry["not_applied"] and dry["not_applied"][0].startswith("command='train'")

        job_config(project, "oumi train -c configs/train.yaml\n")
        refused = await client.call_tool("run_oumi_job", {**arguments, "command": "infer"})
        assert refused.is_error
        text = str(refused.content[0].text)  # type: ignore[union-attr]
        assert "'infer'" in text and "`oumi train`" in text
    assert engine.calls == []


# -- reading the run block -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        ("oumi train -c a.yaml", [("train", "a.yaml", 1)]),
        ("set -e\n\n/venv/bin/oumi evaluate --config=b.yaml", [("evaluate", "b.yaml", 3)]),
        ("python -m oumi infer -c 'my dir/c.yaml'", [("infer", "my dir/c.yaml", 1)]),
        ("oumi distributed torchrun \\\n  -m oumi train \\\n  -c d.yaml", [("train", "d.yaml", 1)]),
        ("WANDB_MODE=offline oumi judge dataset -c j.yaml", [("judge", "j.yaml", 1)]),
        (
            "if true; then oumi train -c a.yaml; else oumi eval -c b.yaml; fi",
            [("train", "a.yaml", 1), ("evaluate", "b.yaml", 1)],
        ),
        ("echo oumi train -c a.yaml  # oumi train -c b.yaml", []),
        ("oumi launch up -c job.yaml\noumi train", [("train", None, 2)]),
        ('RUN="oumi train"\n${RUN} -c a.yaml', []),
    ],
)
def test_the_oumi_calls_of_a_run_block(
    run: str, expected: list[tuple[str, str | None, int]]
) -> None:
    calls = read_run_block(run).calls
    found = [(c.command, c.config.text if c.config else None, c.line) for c in calls]
    assert found == expected


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (
            "oumi train -c a.yaml > log.txt 2>&1 && echo ok",
            "oumi train -c a.yaml --x=1 > log.txt 2>&1 && echo ok",
        ),
        ("oumi train -c a.yaml | tee log", "oumi train -c a.yaml --x=1 | tee log"),
        (
            'oumi train -c a.yaml --training.run_name "${A}.${B}"\n',
            'oumi train -c a.yaml --training.run_name "${A}.${B}" --x=1\n',
        ),
    ],
)
def test_arguments_go_right_after_the_calls_last_argument(run: str, expected: str) -> None:
    assert read_run_block(run).with_arguments(["--x=1"]) == expected
