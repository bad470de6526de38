"""The pre-flight report and its parts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel

PathStatus = Literal[
    "ok",  # local input that exists
    "missing",  # local input that does not exist (blocking for local runs)
    "output_ok",  # output location whose nearest existing parent is writable
    "output_not_writable",  # output location that cannot be created (blocking)
    "ok_synced",  # cloud: inside the working dir that is uploaded
    "not_reachable_on_vm",  # cloud: outside the working dir and not mounted (blocking)
    "excluded_by_skyignore",  # cloud: inside the working dir but not uploaded (blocking)
    "not_found_warning",  # cloud: relative path missing locally (setup may create it)
    "mounted",  # cloud: provided by file_mounts or storage_mounts
    "output_on_vm",  # cloud: output written on the VM (ephemeral)
    "remote",  # a URL or cloud-storage URI, not a local file
]


class Finding(AnswerModel):
    check: str = Field(description="Which check produced this: config, paths, hf, hardware, ...")
    message: str
    field: str = ""
    hint: str = ""


class PathRow(AnswerModel):
    field: str = Field(description="Dotted path of the field in the config.")
    raw: str = Field(description="The value as written.")
    resolved: str = Field(description="Where it points on this machine (against client_cwd).")
    role: Literal["input", "output"]
    status: PathStatus
    note: str = ""


class HfReport(AnswerModel):
    offline: bool
    token_present: bool
    user: str | None = None
    repos: dict[str, str] = Field(
        default_factory=dict, description="repo id -> ok | gated_no_access | not_found | unverified"
    )


class GpuInfo(AnswerModel):
    name: str
    memory_gb: float | None = None
    compute_capability: str | None = None


class HardwareReport(AnswerModel):
    gpus: list[GpuInfo]
    cpu_count: int
    memory_gb: float | None
    source: str = Field(description="How the accelerators were found (nvidia-smi, none).")
    memory_fit: str = Field(
        default="",
        description="The model's estimated memory against the GPUs', when it fits (a "
        "warning says when it does not).",
    )


class CloudReport(AnswerModel):
    target: str
    uses_skypilot: bool
    enabled: bool | None = Field(description="None: could not be verified.")
    enabled_clouds: list[str] = Field(default_factory=list)
    skypilot_version: str | None = None
    note: str = ""


class SuggestedConfig(AnswerModel):
    path: str
    description: str = ""


class CostQuote(AnswerModel):
    """What the launch costs per hour, where a catalog (or you) says; never invented."""

    hourly_usd: float | None = Field(
        description="On-demand (or spot, when asked) price per node-hour; None: not known "
        "(note says why)."
    )
    spot_hourly_usd: float | None = None
    instance_type: str = ""
    region: str = Field(default="", description="The cheapest region, as SkyPilot chooses.")
    nodes: int = 1
    total_hourly_usd: float | None = Field(default=None, description="All nodes, per hour.")
    gpu_hours_per_hour: float | None = Field(
        default=None, description="GPUs x nodes: the GPU-hours one hour of the job uses."
    )
    max_hours: float | None = Field(default=None, description="guards.max_hours, if set.")
    max_total_usd: float | None = Field(
        default=None, description="total_hourly_usd x max_hours: the most the run can cost."
    )
    estimated_hours: float | None = Field(
        default=None,
        description="A training's length: training.max_steps at the steps/s a run of the "
        "same config on the same hardware measured (estimate_basis says which); None "
        "when nothing was measured.",
    )
    estimated_total_usd: float | None = Field(
        default=None, description="total_hourly_usd x estimated_hours, when both are known."
    )
    estimate_basis: str = Field(
        default="", description="How the estimate was made, or what would give one."
    )
    source: str = Field(default="", description="Which catalog (and its date), or your price.")
    note: str = ""


class PreflightReport(AnswerModel):
    blocking: bool = Field(description="True when the run would fail: fix every error first.")
    config_path: str
    kind: str
    target: str = Field(description="'local' or the cloud the run goes to.")
    errors: list[Finding]
    warnings: list[Finding]
    paths: list[PathRow]
    hf: HfReport | None = None
    hardware: HardwareReport | None = None
    cloud_readiness: CloudReport | None = None
    suggested_configs: list[SuggestedConfig] = Field(default_factory=list)
    cost: CostQuote | None = Field(
        default=None,
        description="A job config for a cloud: its price per hour (SkyPilot's offline catalog); "
        "a training config's accelerators are run_oumi_job's, so its dry run quotes it.",
    )
    timings_ms: dict[str, float] = Field(default_factory=dict)
    summary: str
