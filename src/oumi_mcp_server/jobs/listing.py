"""list_jobs: our records with live states, merged with every job oumi.launcher knows.

Our jobs come first, newest first, each with its state from its engine (the
launched ones from their cloud's listing). Jobs the launcher knows that we did
not start (the `sky` or `oumi launch` CLIs, another tool) follow, with an empty
job id. A cloud that could not be listed is a warning; its jobs say "unknown".
"""

from __future__ import annotations

from collections.abc import Sequence

from oumi_mcp_server.jobs.backends.base import Observation
from oumi_mcp_server.jobs.backends.launcher import LauncherBackend
from oumi_mcp_server.jobs.backends.launcher_identity import observation_of
from oumi_mcp_server.jobs.backends.launcher_listing import CloudListing
from oumi_mcp_server.jobs.commands import matches_filter
from oumi_mcp_server.jobs.models import CloudWarning, JobList, JobStatusReport, JobSummary
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.reports import summary
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.launcher.engine import LauncherJob

MAX_LIMIT = 1000
ALL_CLOUDS = "*"  # a listing failure that affects every cloud (oumi.launcher did not load)


def job_list(
    wanted: str,
    limit: int,
    records: Sequence[JobRecord],
    observations: Sequence[Observation | None],
    listings: Sequence[CloudListing],
    launcher: LauncherBackend,
) -> JobList:
    by_cloud = {listing.cloud: listing for listing in listings}
    everywhere = by_cloud.get(ALL_CLOUDS)
    rows: list[JobSummary] = []
    claimed: set[tuple[str, str, str]] = set()
    for record, observation in zip(records, observations, strict=True):
        if observation is None:  # launched: its cloud's listing says
            listing = (
                everywhere
                or by_cloud.get(record.cloud)
                or CloudListing(record.cloud, error="oumi.launcher does not know this cloud.")
            )
            observation = launcher.from_listing(record, listing)
            claimed.add((record.cloud, record.cluster_name, record.launcher_job_id))
        rows.append(summary(record, observation))
    for listing in listings:
        for job in listing.jobs:
            if (job.cloud, job.cluster, job.id) not in claimed:
                rows.append(foreign_summary(job))
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    matched = [row for row in rows if matches_filter(wanted, JobState(row.state))]
    shown = matched[: max(1, min(limit, MAX_LIMIT))]
    warnings = [
        CloudWarning(cloud=listing.cloud, error=listing.error, next_step=listing.next_step)
        for listing in listings
        if not listing.ok
    ]
    more = len(matched) - len(shown)
    if more:
        next_step = f"{more} more: call list_jobs with a larger limit or a narrower status."
    elif warnings:
        next_step = (
            "Some clouds did not answer (see warnings); their jobs are missing or unknown. "
            "Call list_jobs again in a moment."
        )
    else:
        next_step = "get_job_status(job_id) gives details of one job."
    return JobList(
        status=wanted,
        total=len(matched),
        shown=len(shown),
        counts=counts,
        jobs=shown,
        warnings=warnings,
        clouds_listed=sorted(listing.cloud for listing in listings if listing.ok),
        next_step=next_step,
    )


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
