"""How a run with restarts reads: its observation while the policy decides or a restart
waits, its attempts, and the dry run's word on where restarts resume from. Pure."""

from __future__ import annotations

import time
from dataclasses import replace

from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import AttemptReport, RestartPolicyReport, RunJobResult
from oumi_mcp_server.jobs.policies.restarts import (
    Attempt,
    RestartPolicy,
    current_attempt,
    next_action,
)
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.status import JobState, is_terminal


def restart_policy_report(policy: RestartPolicy, result: RunJobResult) -> RestartPolicyReport:
    """The dry run's (and the launch's) word on the restart policy: where restarts resume
    from, and a warning when they may start over."""
    kind = kind_of(policy.request.cloud) if policy.request.cloud else None
    if kind is None or kind.runs_here:
        where = f"the newest complete checkpoint in {result.output_dir or 'the output dir'}"
    elif kind.checkpoints == "cluster_work_dir":
        where = (
            "the newest complete checkpoint in the job's own folder on the cluster (each "
            "submission copies the working dir anew; the path is found with scontrol)"
        )
    else:
        where = "the last checkpoint the output dir still has (oumi looks for it)"
    warning = ""
    if not result.output_dir:
        warning = "No output dir is known: each restart starts over from step 0."
    elif kind is not None and kind.checkpoints == "not_from_here":
        warning = (
            f"Outputs persist {kind.outputs_persist}: unless training.output_dir is on a "
            "storage mount (or a persistent disk), a restart on a new machine starts over."
        )
    return RestartPolicyReport(
        max_restarts=policy.max_restarts,
        restart_on=list(policy.restart_on),
        checkpoints=where,
        warning=warning,
    )


def engine_job_id(record: JobRecord, observation: Observation) -> str:
    if record.launcher_job_id or observation.launcher_job_id:
        return record.launcher_job_id or observation.launcher_job_id
    pid = record.pid or observation.pid
    return f"pid {pid}" if pid else ""


def run_observation(
    record: JobRecord,
    observation: Observation,
    policy: RestartPolicy,
    stopped: bool,
    attempts: list[Attempt],
    now: float,
) -> Observation:
    """One job's observation as its run reads (see ``JobRestarts._as_runs``)."""
    if not is_terminal(observation.state):
        return observation
    current = current_attempt(attempts, record.attempt)
    attempt = f"attempt {record.attempt}"
    if stopped:
        if current is not None and current.decision == "restart":
            return replace(
                observation,
                state=JobState.CANCELLED,
                reason=f"{attempt} ended ({current.cause}); its restart was cancelled",
            )
        return observation
    if current is None or not current.decision:
        if observation.state is JobState.COMPLETED:
            return observation
        return replace(
            observation,
            state=JobState.QUEUED,
            reason=f"{attempt} ended {observation.state.value} ({observation.reason}); the "
            f"server is deciding whether to restart it (max_restarts={policy.max_restarts})",
        )
    if current.decision == "restart":
        return replace(
            observation,
            state=JobState.QUEUED,
            reason=f"{attempt} ended ({current.cause}): {next_action(current, policy, now)}",
        )
    return replace(observation, reason=f"{observation.reason}; {next_action(current, policy, now)}")


def attempt_report(attempt: Attempt, policy: RestartPolicy, record: JobRecord) -> AttemptReport:
    current = attempt.attempt == record.attempt
    engine_id = attempt.engine_job_id
    if current and not engine_id:
        engine_id = record.launcher_job_id or (f"pid {record.pid}" if record.pid else "")
    return AttemptReport(
        attempt=attempt.attempt,
        engine_job_id=engine_id,
        started_at=_iso(attempt.started_at),
        ended_at=_iso(attempt.ended_at),
        state=attempt.end_state or ("running" if current else ""),
        cause=attempt.cause,
        resumed_from=attempt.resumed_from,
        next_action=next_action(attempt, policy, time.time()) if attempt.decision else "",
    )


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


def restart_report(
    record: JobRecord, policy: RestartPolicy, stopped: bool, attempts: list[Attempt]
) -> tuple[RestartPolicyReport, list[AttemptReport]]:
    """get_job_status's restart policy with its next action, and every attempt."""
    action = next_action(current_attempt(attempts, record.attempt), policy, time.time())
    report = RestartPolicyReport(
        max_restarts=policy.max_restarts,
        restart_on=list(policy.restart_on),
        restarts_used=record.attempt - 1,
        next_action="stopped: cancelled (no more restarts)" if stopped else action,
    )
    return report, [attempt_report(attempt, policy, record) for attempt in attempts]
