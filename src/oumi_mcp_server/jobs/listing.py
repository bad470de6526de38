"""list_jobs: our records with live states, merged with what each engine knows besides them.

Our jobs come first, newest first, each with its state from its engine. Jobs
an engine knows that we did not start (oumi.launcher's clouds: the `sky` or
`oumi launch` CLIs, another tool) follow, with an empty job id. A source that
could not be listed is a warning; the jobs it holds say "unknown".
"""

from __future__ import annotations

from collections.abc import Sequence

from oumi_mcp_server.jobs.arguments import matches_filter
from oumi_mcp_server.jobs.models import CloudWarning, JobList, JobSummary
from oumi_mcp_server.jobs.status import JobState

MAX_LIMIT = 1000


def job_list(
    wanted: str,
    limit: int,
    rows: Sequence[JobSummary],
    warnings: Sequence[CloudWarning],
    listed: Sequence[str],
    notes: Sequence[str] = (),
) -> JobList:
    """``rows``: ours, newest first, then foreign ones; ``listed``: the clouds that answered;
    ``notes``: one line each about sources left unasked."""
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    matched = [row for row in rows if matches_filter(wanted, JobState(row.state))]
    shown = matched[: max(1, min(limit, MAX_LIMIT))]
    more = len(matched) - len(shown)
    if more:
        next_step = f"{more} more: call list_jobs with a larger limit or a narrower status."
    elif any(warning.kind == "unanswered" for warning in warnings):
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
        warnings=list(warnings),
        clouds_listed=sorted(listed),
        notes=list(notes),
        next_step=next_step,
    )
