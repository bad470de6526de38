"""Launch through oumi.launcher without ever waiting for it, and say how a launch stands.

The record (identity only, no launcher job id yet) is saved first; ``up`` then
runs in a worker thread that settles the job itself: it records the launcher's
job id (in the run dir, then the registry), and if a cancel was requested
meanwhile it cancels the launcher job at once. So nothing is left running
even when the task waiting for it was cancelled or timed out. Until ``up``
returns, the job's state comes from these records (``before_launch``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.launcher.engine import LauncherEngine, LauncherJob
from oumi_mcp_server.jobs.launcher.identity import (
    mark_launching,
    read_launch_result,
    read_launching,
    record_launch_result,
)
from oumi_mcp_server.jobs.os_processes import is_our_process
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import JobRuntime
from oumi_mcp_server.jobs.status import JobState
from oumi_mcp_server.masking import mask_text

logger = logging.getLogger(__name__)

# What a launch's files say before up has returned a job id.
LaunchFiles = tuple[dict[str, Any] | None, dict[str, Any] | None, dict[str, Any] | None]


def with_identity(record: JobRecord, job: LauncherJob) -> JobRecord:
    return replace(record, cluster_name=job.cluster, launcher_job_id=job.id)


def up_and_settle(
    engine: LauncherEngine,
    registry: Registry,
    record: JobRecord,
    job_config: Mapping[str, Any],
    runtime: JobRuntime,
    server_started: float | None,
    cancel_now: Callable[[LauncherEngine, JobRecord], object],
) -> LauncherJob:
    """Blocking: up, record the identity, and honour a cancel that came meanwhile."""
    run = RunDir.of(record)
    mark_launching(run, os.getpid(), server_started)
    try:
        job = engine.up(job_config, record.cluster_name or None)
    except BaseException as exc:
        record_launch_result(run, {"error": mask_text(f"{type(exc).__name__}: {exc}")})
        raise
    # The run dir keeps the identity too, should the registry be busy right now.
    record_launch_result(run, {"launcher_job_id": job.id, "cluster_name": job.cluster})
    try:
        registry.set_launcher_identity(record.job_id, job.cluster, job.id)
    except Exception:  # the run dir has it: status and cancel read it from there
        logger.exception("Recording the launcher identity of job %s", record.job_id)
    if runtime.cancel_requested or run.read_cancel() is not None:
        try:
            cancel_now(engine, with_identity(record, job))
        except Exception:  # the job keeps running: its status says so; cancel_job retries
            logger.exception("Cancelling job %s after its launch failed", record.job_id)
    return job


def read_launch_files(record: JobRecord) -> LaunchFiles:
    """Blocking: who is launching the job, how up ended, and any cancel request."""
    run = RunDir.of(record)
    return read_launching(run), read_launch_result(run), run.read_cancel()


def before_launch(
    record: JobRecord, files: LaunchFiles, runtime: JobRuntime | None
) -> Observation | None:
    """The state of a launch that has no launcher job id in its record; None when its run
    dir shows up did return one (the registry missed it: ask the launcher)."""
    launching, result, cancel = files
    if result and result.get("error"):
        return Observation(JobState.FAILED, f"launch failed: {result['error']}")
    if result and result.get("launcher_job_id"):
        return None
    if cancel is not None or (runtime is not None and runtime.cancel_requested):
        return Observation(
            JobState.CANCELLED,
            "cancelled before oumi.launcher returned a job id; if it still starts one, "
            "that job is cancelled the moment up returns.",
        )
    if (runtime is not None and runtime.launching) or _owner_alive(launching):
        return Observation(
            JobState.LAUNCHING,
            f"oumi.launcher is starting the job on {record.cloud} "
            + kind_of(record.cloud).launching,
        )
    return Observation(
        JobState.UNKNOWN,
        "the launch was interrupted: the server stopped before oumi.launcher returned a "
        "job id. The job may still exist; list_jobs shows every job the launcher knows.",
    )


def _owner_alive(launching: dict[str, Any] | None) -> bool:
    """True while the server process running this launch's up is alive."""
    if not launching:
        return False
    pid, started = launching.get("server_pid"), launching.get("server_started")
    if not isinstance(pid, int):
        return False
    return is_our_process(pid, started if isinstance(started, float) else None, "")
