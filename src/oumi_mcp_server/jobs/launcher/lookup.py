"""A launcher job found by the cloud's own id: ours (our record) or anyone's (a report).

get_job_status(job_id, cloud, cluster_name) looks up any job oumi.launcher knows,
also one started outside the server; a job we launched answers with our record.
"""

from __future__ import annotations

from oumi_mcp_server.errors import (
    EngineUnavailableError,
    InvalidArgumentError,
    NotFoundError,
    OumiMcpError,
)
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.arguments import check_cloud
from oumi_mcp_server.jobs.launcher.foreign import foreign_status_report
from oumi_mcp_server.jobs.launcher.identity import launched_as
from oumi_mcp_server.jobs.launcher.status import LauncherStatus
from oumi_mcp_server.jobs.models import JobStatusReport
from oumi_mcp_server.jobs.naming import check_cluster_name, check_job_id
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.masking import mask_text


async def look_up_job(
    status: LauncherStatus,
    registry: Registry,
    launcher_job_id: str,
    cloud: str,
    cluster_name: str,
) -> JobRecord | JobStatusReport:
    """A job by its launcher id: our record if we launched it, else its status report."""
    target = check_cloud(cloud)
    job_ref = check_job_id(launcher_job_id)
    cluster = check_cluster_name(cluster_name) if cluster_name.strip() else ""
    try:
        jobs = await status.find_jobs(target, cluster, job_ref)
    except OumiMcpError:
        raise
    except Exception as exc:  # the cloud's own failure: say which, and what to check
        raise EngineUnavailableError(
            f"oumi.launcher could not look up jobs on {target}: {type(exc).__name__}: "
            f"{mask_text(str(exc))[:500]}",
            next_step=f"Check {target}'s credentials and connectivity (`sky check`, or the "
            "cluster's own tools); list_jobs shows which clouds answer.",
        ) from exc
    if not jobs:
        raise NotFoundError(
            f"oumi.launcher knows no job '{job_ref}' on {target}"
            + (f"/{cluster}." if cluster else "."),
            next_step="list_jobs shows every job the launcher knows, with cloud and cluster.",
        )
    if len(jobs) > 1:
        clusters = ", ".join(sorted({job.cluster for job in jobs}))
        raise InvalidArgumentError(
            "cluster_name",
            f"job '{job_ref}' exists on several {target} clusters: {clusters}.",
            next_step="Pass cluster_name to pick one.",
        )
    job = jobs[0]
    record = await registry_ops.call(lambda: registry.find_launched(target, job.cluster, job.id))
    if record is not None and launched_as(record, job):
        return record
    return foreign_status_report(job)
