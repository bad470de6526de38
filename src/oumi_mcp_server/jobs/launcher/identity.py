"""Which launcher job is ours, what its status says in our words, and the launch's own records.

A launcher job id alone is not an identity: oumi's local cloud numbers its jobs
from 0 again in every process. A job is ours when its id, cluster and name
(our job id, set at launch) match the record. The launch writes who is running
it and how it ended into the run dir, the identity before the registry, so a
busy registry loses nothing. Blocking file reads: call from worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.launcher.engine import LauncherJob
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.status import JobState

# Who is running launcher.up for the job (a server pid), and how up ended.
LAUNCHING_FILE = "launching.json"
LAUNCH_RESULT_FILE = "launch_result.json"


def mark_launching(run: RunDir, server_pid: int, server_started: float | None) -> None:
    run.write(
        LAUNCHING_FILE,
        {"server_pid": server_pid, "server_started": server_started, "at": time.time()},
    )


def read_launching(run: RunDir) -> dict[str, Any] | None:
    return run.read(LAUNCHING_FILE)


def record_launch_result(run: RunDir, result: dict[str, Any]) -> None:
    run.write(LAUNCH_RESULT_FILE, {**result, "at": time.time()})


def read_launch_result(run: RunDir) -> dict[str, Any] | None:
    return run.read(LAUNCH_RESULT_FILE)


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
    result = read_launch_result(RunDir.of(record))
    if result and result.get("launcher_job_id"):
        return with_launch_result(record, result)
    return record


def observation_of(job: LauncherJob) -> Observation:
    where = f"{job.cloud}/{job.cluster}" if job.cluster else job.cloud
    detail = f" {job.metadata.strip()}" if job.metadata.strip() else ""
    return Observation(
        JobState(job.state),
        f"{where} job {job.id}: {job.status}.{detail}",
        exit_code=job.exit_code,
        started_at=job.started_at,
        ended_at=job.ended_at,
        launcher_job_id=job.id,
        cluster_name=job.cluster,
    )
