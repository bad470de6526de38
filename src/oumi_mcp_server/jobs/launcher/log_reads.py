"""A launcher job's logs, read where its kind keeps them, each within its time limit.

oumi's local cloud: its files in the run dir; Slurm: the job's log file on the
cluster (one bounded ssh call, no stream left open); any other cloud: a snapshot
of the cluster's log stream, saved in the run dir (logs.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs.backend import LogRead
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.launcher.engine import LauncherEngine
from oumi_mcp_server.jobs.launcher.logs import local_cloud_logs, stream_snapshot
from oumi_mcp_server.jobs.launcher.slurm_logs import slurm_log_read
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.settings import LauncherLimits


async def read_job_logs(
    engine: Callable[[], LauncherEngine],
    limits: LauncherLimits,
    record: JobRecord,
    streams: Sequence[str],
    lines: int,
    offset: int | None,
) -> list[LogRead]:
    """A launcher job's logs where its kind keeps them, each read within ``limits``."""
    run = RunDir.of(record)
    source = kind_of(record.cloud).logs
    if source == "run_dir_files":
        return await run_blocking(
            lambda: local_cloud_logs(run, streams, lines, offset),
            timeout_s=limits.status_s,
            what="Reading job logs",
        )
    if not record.launcher_job_id:
        return []
    if source == "cluster_log_file":  # read on the cluster, bounded: no stream left open
        timeout_s = limits.logs_s
        return [
            await run_blocking(
                lambda: slurm_log_read(
                    record.cluster_name,
                    record.launcher_job_id,
                    lines=lines,
                    offset=offset,
                    timeout_s=timeout_s,
                ),
                timeout_s=timeout_s + 5.0,
                what=f"Reading the log of {record.cluster_name}'s job {record.launcher_job_id}",
            )
        ]

    def read() -> LogRead:
        text = engine().read_logs(
            record.cloud,
            record.cluster_name,
            record.launcher_job_id,
            max_bytes=limits.logs_bytes,
            timeout_s=limits.logs_s,
        )
        return stream_snapshot(run, text, lines, offset)

    return [
        await run_blocking(
            read,
            timeout_s=limits.logs_s + 5.0,
            what=f"Reading the log stream of {record.cloud}/{record.cluster_name}",
        )
    ]
