"""The pieces of an estimate (jobs/throughput.py): the hardware asked, the steps planned,
and the estimate's words."""

from __future__ import annotations

from oumi_mcp_server.jobs.commands import Override
from oumi_mcp_server.jobs.throughput import (
    Hardware,
    Measured,
    estimate,
    hardware_of,
    planned_steps,
)


def test_the_hardware_is_the_job_configs_resources_and_nodes() -> None:
    job = {"resources": {"cloud": "gcp", "accelerators": "A100: 8"}, "num_nodes": 2}
    assert hardware_of("gcp", job) == Hardware("gcp", "A100:8", 2)
    assert hardware_of("", None) == Hardware("", "", 1)  # a process job: this machine
    assert Hardware.from_dict(Hardware("aws", "L4:1", 1).as_dict()) == Hardware("aws", "L4:1", 1)
    assert Hardware.from_dict({"cloud": "aws"}) is None and Hardware.from_dict(None) is None


def test_planned_steps_take_the_last_override_and_ignore_epoch_runs() -> None:
    config = {"training": {"max_steps": 100}}
    assert planned_steps(config, []) == 100
    overrides = [Override("training.max_steps", "5"), Override("training.max_steps", "700")]
    assert planned_steps(config, overrides) == 700
    assert planned_steps({"training": {"max_steps": -1, "num_train_epochs": 3}}, []) is None
    assert planned_steps({}, []) is None
    assert planned_steps(config, [Override("training.max_steps", "many")]) is None


def test_an_estimate_is_made_only_from_a_measured_speed() -> None:
    hardware = Hardware("lambda", "H100:1", 1)
    found = estimate(7200, Measured(4.0, "logged by the trainer", "job-1"), hardware)
    assert found.hours == 0.5 and "job-1" in found.basis and "lambda, H100:1" in found.basis
    assert estimate(7200, None, hardware).hours is None
    assert Measured.from_dict({"steps_per_second": 0}, "j") is None
    assert Measured.from_dict({"steps_per_second": "x"}, "j") is None
