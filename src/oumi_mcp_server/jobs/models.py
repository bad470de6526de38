"""What the job tools return."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.jobs.policies.guards import Guards
from oumi_mcp_server.metrics.models import MetricsSummary, SourceCheck, SourceKind
from oumi_mcp_server.preflight.models import CostQuote, Finding
from oumi_mcp_server.validation.problems import Problem


class SyncSummary(AnswerModel):
    """What a launcher job uploads: the working dir's files, as SkyPilot picks them."""

    working_dir: str
    files: int = Field(description="Files that would be uploaded.")
    total_bytes: int
    ignore_rule: str = Field(description="What leaves files out: .skyignore, .gitignore or none.")
    sample: list[str] = Field(description="Some of the files, sorted.")
    largest: list[str] = Field(description="The largest files, with their sizes.")
    complete: bool = Field(description="False when the count stopped at the limit.")
    warnings: list[str] = Field(default_factory=list)


class CheckSummary(AnswerModel):
    """Validation and pre-flight, condensed for a launch decision."""

    valid: bool = Field(description="The config is valid for the command (strict validation).")
    blocking: bool = Field(description="True when the run would fail: fix every error first.")
    summary: str
    validation_errors: list[Problem] = Field(default_factory=list)
    preflight_errors: list[Finding] = Field(default_factory=list)
    warnings: list[Finding] = Field(default_factory=list)


class RestartPolicyReport(AnswerModel):
    """A run until done: its restart policy and what happens next."""

    max_restarts: int
    restart_on: list[str] = Field(description="The causes that restart it.")
    restarts_used: int = 0
    next_action: str = Field(
        default="",
        description="'restarting in N s', 'gave up: max_restarts reached', "
        "'not restartable: <cause>', ... ('' while the attempt runs).",
    )
    checkpoints: str = Field(default="", description="Where a restart resumes from.")
    warning: str = Field(default="", description="Why a restart may start over, if it may.")


class AttemptReport(AnswerModel):
    attempt: int
    engine_job_id: str = Field(description="The engine's id of this attempt (launcher id, pid).")
    started_at: str | None = None
    ended_at: str | None = None
    state: str = ""
    cause: str = Field(default="", description="Why it ended (a diagnose_job cause id).")
    resumed_from: str = Field(default="", description="The checkpoint it resumed from.")
    next_action: str = ""


class RunJobResult(AnswerModel):
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
    restarts: RestartPolicyReport | None = Field(
        default=None, description="With max_restarts: the restart policy the run keeps."
    )
    cost: CostQuote | None = Field(
        default=None,
        description="Launcher jobs and priced runs: the price per hour (SkyPilot's offline "
        "catalog for a cloud; 0 or your price for Slurm and this machine).",
    )
    message: str
    next_step: str


class JobStatusReport(AnswerModel):
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
    cause: str = Field(
        default="",
        description="Failed jobs: the root cause diagnose_job found (e.g. gpu_oom); '' when "
        "not failed or not diagnosed yet.",
    )
    summary: str = Field(default="", description="Failed jobs: the cause in one sentence.")
    restarts: RestartPolicyReport | None = Field(
        default=None, description="Jobs launched with max_restarts: the policy and next action."
    )
    attempts: list[AttemptReport] = Field(
        default_factory=list, description="Jobs launched with max_restarts: every attempt."
    )
    guards: Guards | None = Field(default=None, description="The job's guards, if any.")
    stopped_by: str = Field(
        default="", description="The guard that stopped it: max_hours, max_cost_usd, stall, nan."
    )
    stop_reason: str = ""
    cost_so_far_usd: float | None = Field(
        default=None, description="Priced jobs: price per hour x nodes x hours run so far."
    )
    health: list[str] = Field(
        default_factory=list,
        description="A running job: 'stalled: no new output for N min', 'NaN: ... since step "
        "N' (warnings only; guards stop jobs).",
    )
    next_step: str


class JobSummary(AnswerModel):
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
    cause: str = Field(
        default="",
        description="Failed jobs: the root cause, once diagnosed (by get_job_status or "
        "diagnose_job); '' otherwise.",
    )
    cost_so_far_usd: float | None = None


class CloudWarning(AnswerModel):
    cloud: str
    cluster_name: str = Field(
        default="", description="Slurm: the cluster that did not answer; or the idle cluster."
    )
    error: str
    next_step: str = ""
    kind: Literal["unanswered", "idle_cluster"] = Field(
        default="unanswered",
        description="unanswered: the cloud did not answer (its jobs are missing or unknown); "
        "idle_cluster: a cluster this server launched has had no running job for 30 min.",
    )


class JobList(AnswerModel):
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


class LogChunk(AnswerModel):
    stream: str
    path: str
    text: str
    lines: int
    start_offset: int = Field(description="Byte offset of the first byte shown.")
    end_offset: int = Field(description="Byte offset after the last byte shown.")
    file_size: int
    truncated: bool = Field(description="The size cap cut this chunk short.")
    more_after: bool = Field(description="More of the file follows end_offset.")


class JobLogs(AnswerModel):
    job_id: str
    state: str
    chunks: list[LogChunk]
    next_offset: int | None = Field(
        default=None, description="Pass as offset (same stream) to read on from here."
    )
    next_step: str


class CancelResult(AnswerModel):
    job_id: str
    action: str = Field(description="cancelled, already_finished or still_running.")
    previous_state: str
    state: str
    signals_sent: list[str] = Field(default_factory=list)
    message: str


class JobMetricsReport(AnswerModel):
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


class DiagnosisEvidence(AnswerModel):
    line: int | None = Field(description="1-based line number in its source (None: not counted).")
    text: str = Field(description="The line, cut short, secrets masked.")
    source: str = Field(description="A log file's name, 'engine' or 'exit code'.")


class DiagnosisCandidate(AnswerModel):
    cause: str
    confidence: float


class DiagnosisFix(AnswerModel):
    steps: list[str] = Field(description="What to do, in plain words.")
    config_patch: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted keys from the config root (list items in brackets: "
        "data.train.datasets[0].split) and their new values; relaunch_job applies them.",
    )
    envs_needed: list[str] = Field(
        default_factory=list, description="Environment variables the job needs (names only)."
    )
    resume_from: str | None = Field(
        default=None, description="The newest complete checkpoint folder to resume from."
    )


class JobDiagnosis(AnswerModel):
    job_id: str = Field(description="The job diagnosed ('' for a log given by path).")
    state: str = Field(description="The job's state ('' for a log given by path).")
    cause: str = Field(
        description="The root cause from a fixed vocabulary (gpu_oom, host_oom, hf_auth, "
        "dataset_not_found, nan_loss, config_error, python_error, ...); 'none' when nothing "
        "failed."
    )
    confidence: float = Field(description="0-1: how sure the cause is.")
    summary: str = Field(description="The cause in one sentence.")
    evidence: list[DiagnosisEvidence] = Field(default_factory=list)
    other_candidates: list[DiagnosisCandidate] = Field(default_factory=list)
    fix: DiagnosisFix
    log_sources: list[str] = Field(
        default_factory=list, description="The logs read (paths, or the engine's log stream)."
    )
    cached: bool = Field(
        default=False, description="True when this is the job's diagnosis computed earlier."
    )
    next_step: str


class RelaunchResult(AnswerModel):
    job_id: str = Field(description="The failed job the relaunch starts from.")
    dry_run: bool
    cause: str = Field(description="The cause the fix addresses.")
    config_patch: dict[str, Any] = Field(
        description="What changes in the job's config (dotted keys and their new values)."
    )
    resume_from: str | None = Field(
        default=None, description="The checkpoint the relaunch resumes from, if any."
    )
    original_config_path: str = Field(description="The user's config (never changed).")
    new_config_path: str = Field(
        description="The patched copy beside the original (a dry run only names it)."
    )
    written: bool = Field(description="True when the new config file was written.")
    new_config_text: str = Field(description="The patched config, as written (or to write).")
    envs_replayed: list[str] = Field(
        default_factory=list, description="Variable names passed again in envs."
    )
    run: RunJobResult | None = Field(
        default=None,
        description="run_oumi_job's answer for the new config: its dry run, or the launch.",
    )
    message: str
    next_step: str
