"""How long a training will take: its planned steps at a throughput measured on the same
hardware, never an assumed one.

A launch keeps the hardware it asked for in its run dir (``hardware.json``: cloud,
accelerators, nodes); reading a job's metrics keeps the steps per second they show
(``throughput.json``). A dry run of the same config file and command on the same
hardware finds the newest such measurement and estimates the hours from the config's
``training.max_steps`` (an override included). With no max_steps (epochs only) or no
measurement on that hardware there is no estimate, and the note says what would give one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from oumi_mcp_server.jobs.commands import Override
from oumi_mcp_server.jobs.kinds import kind_of

HARDWARE_FILE = "hardware.json"
THROUGHPUT_FILE = "throughput.json"
MAX_STEPS_KEY = "training.max_steps"
TRAIN_COMMAND = "train"


@dataclass(frozen=True)
class Hardware:
    """Where a job runs, as far as its speed goes."""

    cloud: str  # 'local' (or ''): this machine
    accelerators: str  # as asked, e.g. 'A100:8'; '' when none was asked
    nodes: int = 1

    def describe(self) -> str:
        where = "this machine" if not self.cloud or kind_of(self.cloud).runs_here else self.cloud
        what = self.accelerators or "no accelerator asked"
        return f"{where}, {what}, {self.nodes} node(s)"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Hardware | None:
        if not data:
            return None
        try:
            return cls(str(data["cloud"]), str(data["accelerators"]), int(data["nodes"]))
        except (KeyError, TypeError, ValueError):
            return None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Measured:
    steps_per_second: float
    source: str  # how the metrics reader found the rate
    job_id: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None, job_id: str) -> Measured | None:
        try:
            rate = float((data or {})["steps_per_second"])
            source = str((data or {}).get("source", ""))
        except (KeyError, TypeError, ValueError):
            return None
        return cls(rate, source, job_id) if rate > 0 else None

    def as_dict(self) -> dict[str, Any]:
        return {"steps_per_second": self.steps_per_second, "source": self.source}


@dataclass(frozen=True)
class Estimate:
    hours: float | None
    basis: str  # how it was made, or why there is none


def hardware_of(cloud: str, job_config: Mapping[str, Any] | None) -> Hardware:
    """The hardware a launch asks for: its job config's resources and nodes (none: this
    machine, for a process job)."""
    job = job_config or {}
    given = job.get("resources")
    resources: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
    accelerators = str(resources.get("accelerators") or "").replace(" ", "")
    try:
        nodes = max(1, int(job.get("num_nodes") or 1))
    except (TypeError, ValueError):
        nodes = 1
    return Hardware(str(resources.get("cloud") or cloud or ""), accelerators, nodes)


def planned_steps(config: Mapping[str, Any], overrides: Sequence[Override]) -> int | None:
    """training.max_steps as the run will see it (the last override wins); None when the
    run is bounded by epochs instead."""
    value: Any = None
    training = config.get("training")
    if isinstance(training, Mapping):
        value = training.get("max_steps")
    for override in overrides:
        if override.key == MAX_STEPS_KEY:
            value = override.value
    try:
        steps = int(value)
    except (TypeError, ValueError):
        return None
    return steps if steps > 0 else None


def estimate(steps: int | None, measured: Measured | None, hardware: Hardware) -> Estimate:
    if steps is None:
        return Estimate(
            None,
            "No estimate of the run's length: the config sets no training.max_steps (its "
            "length in steps needs the dataset's size); guards.max_hours bounds it.",
        )
    if measured is None:
        return Estimate(
            None,
            f"No estimate of the run's length yet: no run of this config on "
            f"{hardware.describe()} has shown its speed. A short run there (e.g. "
            "training.max_steps=20) and get_job_metrics measure it; guards.max_hours "
            "bounds it meanwhile.",
        )
    hours = steps / measured.steps_per_second / 3600
    return Estimate(
        round(hours, 3),
        f"{steps} steps (training.max_steps) at {measured.steps_per_second:.3g} steps/s, "
        f"measured by job {measured.job_id} on {hardware.describe()}; speed "
        f"{measured.source}. Provisioning and setup are not included.",
    )
