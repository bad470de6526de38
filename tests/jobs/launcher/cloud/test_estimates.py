"""A training's length and total in the dry run: training.max_steps at the speed a run of
the same config measured on the same hardware (its metrics, as get_job_metrics read them),
never an assumed one; a budget the estimate already exceeds is refused."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.policies.guards import Guards
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.jobs.throughput import HARDWARE_FILE, THROUGHPUT_FILE
from oumi_mcp_server.preflight.models import CostQuote
from tests.jobs.launcher.cloud.support import CONFIG, RecordingLauncher, launch_on_gcp, until

pytestmark = pytest.mark.anyio
A100 = CloudResources(accelerators="A100:1")
# The trainer's lines as a cloud job's log shows them: two steps, then its summary.
SHORT_RUN_LOG = (
    "{'loss': '4.026', 'grad_norm': '2.038', 'learning_rate': '0.001', 'epoch': '0.1'}\n"
    "{'loss': '3.984', 'grad_norm': '1.937', 'learning_rate': '0.0009', 'epoch': '0.2'}\n"
    "{'train_runtime': '8.0', 'train_samples_per_second': '20.0', "
    "'train_steps_per_second': '2.5', 'train_loss': '4.0', 'epoch': '0.2'}\n"
)


async def measured_short_run(priced: JobService, project: Path, engine: RecordingLauncher) -> str:
    """A short run on gcp A100:1 whose metrics were read: 2.5 steps/s."""
    record = await launch_on_gcp(priced, project, resources=A100)
    engine.logs_text = SHORT_RUN_LOG
    engine.set_status("gcp", record.launcher_job_id, "SUCCEEDED", "completed", True)
    report, _ = await priced.metrics(record.job_id, ["loss"], chart=False)
    assert report.summary is not None and report.summary.steps_per_second == 2.5
    return record.job_id


async def gcp_quote(
    priced: JobService, project: Path, resources: CloudResources, *overrides: str
) -> CostQuote:
    """The cost in the dry run of the training on gcp."""
    dry = await priced.run(
        CONFIG, "train", str(project), cloud="gcp", resources=resources, overrides=list(overrides)
    )
    assert dry.cost is not None, dry.message
    return dry.cost


async def test_the_dry_run_estimates_hours_and_total_from_a_measured_run(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    short = await measured_short_run(priced, project, engine)
    kept = RunDir.of(priced.registry.get(short))
    assert json.loads((kept.path / HARDWARE_FILE).read_text())["accelerators"] == "A100:1"
    assert json.loads((kept.path / THROUGHPUT_FILE).read_text())["steps_per_second"] == 2.5

    cost = await gcp_quote(priced, project, A100, "training.max_steps=9000")
    assert cost is not None and cost.estimated_hours == 1.0  # 9000 / 2.5 / 3600
    assert cost.estimated_total_usd == 10.0  # 1 h at $10
    assert short in cost.estimate_basis and "9000 steps" in cost.estimate_basis
    assert "train_steps_per_second" in cost.estimate_basis  # where the speed came from


async def test_other_hardware_or_no_max_steps_gives_no_estimate_and_says_why(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    await measured_short_run(priced, project, engine)
    eight = await gcp_quote(priced, project, CloudResources("A100:8"))
    assert eight.estimated_hours is None and eight.estimated_total_usd is None
    assert "gcp, A100:8" in eight.estimate_basis and "get_job_metrics" in eight.estimate_basis
    epochs = await gcp_quote(priced, project, A100, "training.max_steps=-1")
    assert epochs.estimated_hours is None
    assert "no training.max_steps" in epochs.estimate_basis


async def test_a_launch_whose_estimate_exceeds_max_cost_usd_is_refused(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    await measured_short_run(priced, project, engine)
    ups = len(engine.calls_named("up"))
    with pytest.raises(InvalidArgumentError) as refused:
        await priced.run(
            CONFIG,
            "train",
            str(project),
            cloud="gcp",
            resources=A100,
            overrides=["training.max_steps=90000"],  # 10 h at $10: $100
            guards=Guards(max_cost_usd=50),
            dry_run=False,
        )
    assert "estimated at $100.00" in refused.value.message
    assert len(engine.calls_named("up")) == ups  # nothing started


async def test_a_restarted_runs_later_attempt_measures_on_its_first_attempts_hardware(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    record = await launch_on_gcp(priced, project, resources=A100, max_restarts=1)
    engine.set_status("gcp", record.launcher_job_id, "PREEMPTED", "failed", True)
    await priced.drive_restarts(now=time.time())  # decided
    assert await priced.drive_restarts(now=time.time() + 1000) == [record.job_id]
    assert await until(lambda: not priced.runtimes), "the relaunch never settled"
    second = priced.registry.get(record.job_id)
    assert second.attempt == 2 and not (RunDir.of(second).path / HARDWARE_FILE).exists()
    engine.logs_text = SHORT_RUN_LOG
    await priced.metrics(record.job_id, ["loss"], chart=False)

    cost = await gcp_quote(priced, project, A100)
    assert cost.estimated_hours is not None
    assert record.job_id in cost.estimate_basis
