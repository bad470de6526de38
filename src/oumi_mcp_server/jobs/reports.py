"""The answers of the job tools, built from plans, records and live observations."""

from __future__ import annotations

import time
from datetime import datetime

from oumi_mcp_server.jobs.arguments import LOG_STREAMS
from oumi_mcp_server.jobs.backend import CancelOutcome, LogRead, Observation
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import (
    CancelResult,
    CheckSummary,
    JobStatusReport,
    JobSummary,
    LogChunk,
    RunJobResult,
)
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.status import JobState, is_terminal

STDERR_TAIL_LINES = 20
STDOUT_TAIL_LINES = 10


def iso(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="seconds")


def next_step_for(record: JobRecord, observation: Observation) -> str:
    job = f"job_id='{record.job_id}'"
    state = observation.state
    if state is JobState.VALIDATING:
        return (
            f"The launch is being checked; call get_job_status({job}) again in a few seconds "
            f"(cancel_job({job}) now stops it before it starts)."
        )
    if state in (JobState.QUEUED, JobState.LAUNCHING):
        return f"The job is starting; call get_job_status({job}) again in a few seconds."
    if state is JobState.RUNNING:
        return (
            f"Watch progress with get_job_logs({job}, lines=50) every 30-120 s; "
            f"stop it with cancel_job({job}) if it goes wrong."
        )
    if state is JobState.COMPLETED:
        where = f" Results are in {record.output_dir}." if record.output_dir else ""
        follow = (
            " Evaluate or try the model next (guidance://post-training)."
            if record.command == "train"
            else ""
        )
        if not record.is_process:
            where = (
                f" Results are on the cluster ({record.output_dir}, relative to the working dir)."
                if record.output_dir
                else ""
            )
            follow += _cluster_reminder(record, observation)
        return f"The job finished successfully.{where}{follow}"
    if state is JobState.CANCELLED:
        return "The job was cancelled. Start a new one with run_oumi_job when ready." + (
            _cluster_reminder(record, observation)
        )
    if state is JobState.UNKNOWN:
        return (
            f"The engine could not say (see reason). Call get_job_status({job}) again in a "
            "minute; list_jobs shows every job oumi.launcher knows."
        )
    return (
        f"diagnose_job({job}) names the root cause and the fix (stderr_tail and stdout_tail "
        f"show the end of the output, get_job_logs({job}) more); relaunch_job({job}) applies "
        "the fix to a new copy of the config as a dry run."
    )


def _cluster_reminder(record: JobRecord, observation: Observation) -> str:
    """Launcher jobs on a cloud cluster: it bills until stopped (process jobs: cloud local)."""
    cluster = observation.cluster_name or record.cluster_name
    if record.is_process or not kind_of(record.cloud).bills_until_stopped or not cluster:
        return ""
    return (
        f" Cluster {cluster} bills until stopped: copy outputs out, then "
        f"stop_cluster or down_cluster(cloud='{record.cloud}', cluster_name='{cluster}')."
    )


def status_report(
    record: JobRecord,
    observation: Observation,
    stderr_tail: list[str],
    stdout_tail: list[str],
    *,
    cause: str = "",
    cause_summary: str = "",
) -> JobStatusReport:
    duration = None
    if observation.started_at is not None:
        end = observation.ended_at
        if end is None and not is_terminal(observation.state):
            end = time.time()
        if end is not None:
            duration = round(max(0.0, end - observation.started_at), 1)
    return JobStatusReport(
        job_id=record.job_id,
        state=observation.state.value,
        terminal=is_terminal(observation.state),
        reason=observation.reason,
        exit_code=observation.exit_code,
        command=record.command,
        cloud=record.cloud,
        cluster_name=observation.cluster_name or record.cluster_name,
        launcher_job_id=observation.launcher_job_id or record.launcher_job_id,
        config_path=record.config_path,
        staged_config_path=record.staged_config_path,
        client_cwd=record.client_cwd,
        submitted_at=iso(record.submitted_at) or "",
        started_at=iso(observation.started_at),
        ended_at=iso(observation.ended_at),
        duration_s=duration,
        pid=observation.pid,
        stdout_path=record.stdout_path,
        stderr_path=record.stderr_path,
        model_name=record.model_name,
        output_dir=record.output_dir,
        stderr_tail=stderr_tail,
        stdout_tail=stdout_tail,
        cause=cause,
        summary=cause_summary,
        next_step=next_step_for(record, observation),
    )


def summary(record: JobRecord, observation: Observation, cause: str = "") -> JobSummary:
    return JobSummary(
        job_id=record.job_id,
        state=observation.state.value,
        command=record.command,
        cloud=record.cloud,
        cluster_name=observation.cluster_name or record.cluster_name,
        launcher_job_id=observation.launcher_job_id or record.launcher_job_id,
        submitted_at=iso(record.submitted_at) or "",
        ended_at=iso(observation.ended_at),
        exit_code=observation.exit_code,
        reason=observation.reason,
        config_path=record.config_path,
        output_dir=record.output_dir,
        cause=cause,
    )


def log_chunk(read: LogRead) -> LogChunk:
    page = read.page
    return LogChunk(
        stream=read.stream,
        path=read.path,
        text=page.text,
        lines=page.lines,
        start_offset=page.start,
        end_offset=page.end,
        file_size=page.size,
        truncated=page.truncated,
        more_after=page.more_after,
    )


def logs_next_step(
    job_id: str, chunks: list[LogChunk], state: JobState, paging: bool
) -> tuple[int | None, str]:
    if not chunks:
        if is_terminal(state):
            return None, f"The job wrote no output that can be read here (it is {state.value})."
        return None, (
            f"No output yet (the job is {state.value}); call get_job_logs(job_id='{job_id}') "
            "again in 30-60 s."
        )
    if len(chunks) != 1:
        active = "" if is_terminal(state) else " The job is still running: call again for more."
        return None, (
            "Pass stream='stdout' or 'stderr' with offset=<end_offset> to read one stream "
            f"forward from where this stopped.{active}"
        )
    chunk = chunks[0]
    # A cloud job's one combined stream ("output") is not a get_job_logs stream name;
    # it pages with stream='stdout' (the launcher backend reads the same stream for any).
    stream = chunk.stream if chunk.stream in LOG_STREAMS else "stdout"
    call = f"get_job_logs(job_id='{job_id}', stream='{stream}', offset={chunk.end_offset})"
    if chunk.more_after:
        return chunk.end_offset, f"More follows: call {call} to read on."
    if not is_terminal(state):
        return chunk.end_offset, f"End of the log so far; the job is running. Later, {call}."
    done = f"End of the log (the job is {state.value})."
    if paging or chunk.start_offset <= 0:
        return None, done
    start = f"get_job_logs(job_id='{job_id}', stream='{stream}', offset=0)"
    return None, f"{done} Earlier lines are not shown: {start} reads from the start."


def cancel_result(job_id: str, outcome: CancelOutcome) -> CancelResult:
    return CancelResult(
        job_id=job_id,
        action=outcome.action,
        previous_state=outcome.previous.state.value,
        state=outcome.final.state.value,
        signals_sent=outcome.signals_sent,
        message=outcome.message,
    )


def cancelled_before_start(result: RunJobResult) -> RunJobResult:
    """run_oumi_job's answer when cancel_job came while the launch was being checked."""
    return result.model_copy(
        update={
            "launched": False,
            "state": JobState.CANCELLED.value,
            "message": "Cancelled before start: cancel_job arrived while the launch was being "
            "checked. Nothing was started.",
            "next_step": "Launch again (a new job_name, or none) when ready.",
        }
    )


def existing_job_result(record: JobRecord, observation: Observation) -> RunJobResult:
    """run_oumi_job's answer to a repeated request: the job the first one started."""
    job = f"job_id='{record.job_id}'"
    return RunJobResult(
        dry_run=False,
        launched=not record.is_pending,
        job_id=record.job_id,
        state=observation.state.value,
        existing=True,
        command=record.command,
        cloud=record.cloud,
        cluster_name=record.cluster_name,
        argv=list(record.argv),
        cwd=record.client_cwd,
        env_additions={name: "(as first launched)" for name in record.env_names},
        config_path=record.config_path,
        staged_config_path=record.staged_config_path,
        run_dir=record.run_dir,
        stdout_path=record.stdout_path,
        stderr_path=record.stderr_path,
        output_dir=record.output_dir,
        checks=CheckSummary(
            valid=True,
            blocking=False,
            summary="Checked when this job was first launched.",
        ),
        message=f"A job named '{record.job_id}' was already launched with this same request: "
        f"returning it ({observation.state.value}: {observation.reason}). Nothing new was "
        "started.",
        next_step=f"Follow it with get_job_status({job}); to run it again, choose a new job_name.",
    )
