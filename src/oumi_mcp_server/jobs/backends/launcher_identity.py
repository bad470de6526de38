"""Which launcher job is ours, and what its status says, in our words.

A launcher job id alone is not an identity: oumi's local cloud numbers its jobs
from 0 again in every process. A job is ours when its id, cluster and name
(our job id, set at launch) match the record. The launch writes the identity
to the run dir before the registry, so a busy registry loses nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from oumi_mcp_server.jobs.backends.base import Observation
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.status import JobState
from oumi_mcp_server.launcher.engine import LauncherJob


def launched_as(record: JobRecord, job: LauncherJob) -> bool:
    """True if the launcher job is the one this record launched (ids can be reused)."""
    if job.id != record.launcher_job_id:
        return False
    if record.cluster_name and job.cluster and job.cluster != record.cluster_name:
        return False
    return not job.name or job.name == record.job_id


def with_launch_result(record: JobRecord, result: Mapping[str, object]) -> JobRecord:
    return replace(
        record,
        launcher_job_id=str(result["launcher_job_id"]),
        cluster_name=str(result.get("cluster_name") or record.cluster_name),
    )


def launched_identity(record: JobRecord) -> JobRecord:
    """Blocking: the record with its launcher identity, from the run dir if the registry
    has none yet (the launch writes it there first)."""
    if record.launcher_job_id:
        return record
    result = RunDir(Path(record.run_dir)).read_launch_result()
    if result and result.get("launcher_job_id"):
        return with_launch_result(record, result)
    return record


def observation_of(job: LauncherJob) -> Observation:
    where = f"{job.cloud}/{job.cluster}" if job.cluster else job.cloud
    detail = f" {job.metadata.strip()}" if job.metadata.strip() else ""
    return Observation(JobState(job.state), f"{where} job {job.id}: {job.status}.{detail}")
