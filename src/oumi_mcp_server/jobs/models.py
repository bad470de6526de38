"""What the job tools return."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from oumi_mcp_server.metrics.models import MetricsSummary, SourceCheck, SourceKind
from oumi_mcp_server.preflight.models import Finding
from oumi_mcp_server.validation.problems import Problem


class SyncSummary(BaseModel):
    """What a launcher job uploads: the working dir's files, as SkyPilot picks them."""

    working_dir: str
    files: int = Field(description="Files that would be uploaded.")
    total_bytes: int
    ignore_rule: str = Field(description="What leaves files out: .skyignore, .gitignore or none.")
    sample: list[str] = Field(description="Some of the files, sorted.")
    largest: list[str] = Field(description="The largest files, with their sizes.")
    complete: bool = Field(description="False when the count stopped at the limit.")
    warnings: list[str] = Field(default_factory=list)


class CheckSummary(BaseModel):
    """Validation and pre-flight, condensed for a launch decision."""

    valid: bool = Field(description="The config is valid for the command (strict validation).")
    blocking: bool = Field(description="True when the run would fail: fix every error first.")
    summary: str
    validation_errors: list[Problem] = Field(default_factory=list)
    preflight_errors: list[Finding] = Field(default_factory=list)
    warnings: list[Finding] = Field(default_factory=list)


class RunJobResult(BaseModel):
    dry_run: bool
    launched: bool
    job_id: str = Field(
        description="The job's id (for a dry run without job_name: an example, a new one "
        "is generated at launch)."
    )
    state: str | None = Field(default=None, description="Live state right after launch.")
    existing: bool = Field(
        default=False,
        description="True when job_name named a job launched with this same request: that "
        "job is returned and nothing new was started.",
    )
    command: str
    cloud: str
    cluster_name: str = ""
    argv: list[str] = Field(description="Exactly what is executed (no shell; process jobs).")
    cwd: str = Field(description="The job's working directory: client_cwd.")
    env_additions: dict[str, str] = Field(
        description="Variables added to the server's environment (secret-looking values masked)."
    )
    config_path: str = Field(description="The user's config file.")
    staged_config_path: str = Field(description="The copy the job reads (later edits don't apply).")
    run_dir: str
    stdout_path: str
    stderr_path: str
    output_dir: str = Field(default="", description="Where results go (resolved), if known.")
    checks: CheckSummary
    not_applied: list[str] = Field(
        default_factory=list,
        description="Arguments that change nothing in what runs, each with why (a job "
        "config runs as written: only overrides reach the oumi command of its run block).",
    )
    job_config: dict[str, Any] | None = Field(
        default=None,
        description="Cloud jobs: the oumi JobConfig handed to oumi.launcher (secrets masked).",
    )
    sync: SyncSummary | None = Field(
        default=None,
        description="Cloud jobs: the files of working_dir uploaded to the VM (none for "
        "oumi's local cloud, which runs in place).",
    )
    job_script: str = Field(
        default="",
        description="Slurm jobs: the batch script oumi's slurm cloud submits with sbatch "
        "(secret-looking values masked).",
    )
    reminder: str = Field(default="", description="Cloud jobs: cost and teardown.")
    message: str
    next_step: str


class JobStatusReport(BaseModel):
    job_id: str = Field(description="Our job id ('' for a job we did not launch).")
    state: str = Field(
        description="queued, launching, running, completed, failed, cancelled, or unknown "
        "(the engine no longer knows the job or did not answer)."
    )
    terminal: bool = Field(description="True once the state is final.")
    reason: str
    exit_code: int | None = None
    command: str = ""
    cloud: str
    cluster_name: str = ""
    launcher_job_id: str = Field(default="", description="The job's id in oumi.launcher.")
    config_path: str = ""
    staged_config_path: str = ""
    client_cwd: str = ""
    submitted_at: str = ""
    started_at: str | None = None
    ended_at: str | None = None
    duration_s: float | None = None
    pid: int | None = None
    stdout_path: str = ""
    stderr_path: str = ""
    model_name: str = ""
    output_dir: str = ""
    stderr_tail: list[str] = Field(
        default_factory=list, description="Last lines of stderr (on failure)."
    )
    stdout_tail: list[str] = Field(
        default_factory=list,
        description="Last lines of stdout (on failure; oumi's CLI prints its errors there).",
    )
    next_step: str


class JobSummary(BaseModel):
    job_id: str = Field(description="Our job id ('' for jobs started outside this server).")
    state: str
    command: str = ""
    cloud: str
    cluster_name: str = ""
    launcher_job_id: str = ""
    name: str = ""
    submitted_at: str = ""
    ended_at: str | None = None
    exit_code: int | None = None
    reason: str
    config_path: str = ""
    output_dir: str = ""


class CloudWarning(BaseModel):
    cloud: str
    cluster_name: str = Field(default="", description="Slurm: the cluster that did not answer.")
    error: str
    next_step: str = ""


class JobList(BaseModel):
    status: str = Field(description="The filter applied.")
    total: int = Field(description="Jobs matching the filter.")
    shown: int
    counts: dict[str, int] = Field(description="Jobs per state, over all known jobs.")
    jobs: list[JobSummary] = Field(
        description="Ours newest first, then jobs the launcher knows that we did not start."
    )
    warnings: list[CloudWarning] = Field(
        default_factory=list,
        description="Clouds that could not be listed (their jobs are missing).",
    )
    clouds_listed: list[str] = Field(
        default_factory=list, description="Clouds oumi.launcher answered for."
    )
    notes: list[str] = Field(
        default_factory=list,
        description="Clouds left unasked and why, one line each (e.g. no SkyPilot cloud "
        "is enabled: how to enable one).",
    )
    next_step: str


class LogChunk(BaseModel):
    stream: str
    path: str
    text: str
    lines: int
    start_offset: int = Field(description="Byte offset of the first byte shown.")
    end_offset: int = Field(description="Byte offset after the last byte shown.")
    file_size: int
    truncated: bool = Field(description="The size cap cut this chunk short.")
    more_after: bool = Field(description="More of the file follows end_offset.")


class JobLogs(BaseModel):
    job_id: str
    state: str
    chunks: list[LogChunk]
    next_offset: int | None = Field(
        default=None, description="Pass as offset (same stream) to read on from here."
    )
    next_step: str


class CancelResult(BaseModel):
    job_id: str
    action: str = Field(description="cancelled, already_finished or still_running.")
    previous_state: str
    state: str
    signals_sent: list[str] = Field(default_factory=list)
    message: str


class JobMetricsReport(BaseModel):
    job_id: str
    state: str
    terminal: bool
    model_name: str = ""
    output_dir: str = ""
    found: bool = Field(description="False when no metrics were found anywhere.")
    series: dict[str, list[tuple[int, float | None]]] = Field(
        default_factory=dict,
        description="Selected metrics: name -> [(step, value)] (None: NaN or inf was logged).",
    )
    available_metrics: list[str] = Field(default_factory=list)
    summary: MetricsSummary | None = None
    note: str = Field(description="What was found (or where it looked), in plain words.")
    source: str | None = Field(default=None, description="The file the series come from.")
    source_kind: SourceKind | None = None
    sources_checked: list[SourceCheck] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="Earliest points were not read.")
    chart: str = Field(description="Whether a PNG chart is attached as image content, or why not.")
    next_step: str
