"""Jobs oumi.launcher knows that this server did not start (the `sky` or `oumi launch` CLIs)."""

from __future__ import annotations

from oumi_mcp_server.jobs.launcher.engine import LauncherJob
from oumi_mcp_server.jobs.launcher.identity import observation_of
from oumi_mcp_server.jobs.models import JobStatusReport, JobSummary
from oumi_mcp_server.jobs.status import is_terminal


def foreign_summary(job: LauncherJob) -> JobSummary:
    observation = observation_of(job)
    return JobSummary(
        job_id="",
        state=observation.state.value,
        cloud=job.cloud,
        cluster_name=job.cluster,
        launcher_job_id=job.id,
        name=job.name,
        reason=observation.reason,
    )


def foreign_status_report(job: LauncherJob) -> JobStatusReport:
    """Status of a launcher job this server did not start."""
    observation = observation_of(job)
    terminal = is_terminal(observation.state)
    ref = f"launcher job {job.id} on {job.cloud}/{job.cluster}"
    return JobStatusReport(
        job_id="",
        state=observation.state.value,
        terminal=terminal,
        reason=observation.reason,
        cloud=job.cloud,
        cluster_name=job.cluster,
        launcher_job_id=job.id,
        next_step=(
            f"This {ref} was not started by this server, so get_job_logs and cancel_job do not "
            "know it; use `sky logs` / `sky cancel` (or `oumi launch cancel`) for it."
            + ("" if terminal else " Its cluster bills while it is up.")
        ),
    )
