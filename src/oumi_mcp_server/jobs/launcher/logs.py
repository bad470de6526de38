"""Launcher job logs: files of oumi's local cloud, or a snapshot of a cluster's log stream.

Both are read with the same bounded tail/page functions as process jobs. A
cluster's stream (stdout and stderr combined) is saved in the run dir, so the
last read survives the cluster being deleted; a Slurm job's log file is read on
the cluster (slurm_logs.py). Blocking: call from worker threads (log_reads.py
does).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from oumi_mcp_server.jobs.backend import LogRead
from oumi_mcp_server.jobs.logs import read_page
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.private import open_private, private_dir

LAUNCHER_LOGS_DIR = "launcher_logs"  # oumi's local cloud writes the job's output here
STREAM_LOG_FILE = "stream.log"  # the last snapshot of a cloud job's log stream
STREAM_NAME = "output"  # a cluster's stream: stdout and stderr together


def launcher_logs_dir(run: RunDir) -> Path:
    return run.path / LAUNCHER_LOGS_DIR


def local_cloud_logs(
    run: RunDir, streams: Sequence[str], lines: int, offset: int | None
) -> list[LogRead]:
    """oumi's local cloud writes <time>_<id>.stdout / .stderr into our logging dir."""
    folder = launcher_logs_dir(run)
    reads = []
    for stream in streams:
        found = sorted(folder.glob(f"*.{stream}")) if folder.is_dir() else []
        if found:
            reads.append(LogRead(stream, str(found[-1]), read_page(found[-1], lines, offset)))
    return reads


def stream_snapshot(run: RunDir, text: str, lines: int, offset: int | None) -> LogRead:
    """Save what was read from a cluster's log stream, then read it like a log file."""
    snapshot = private_dir(launcher_logs_dir(run)) / STREAM_LOG_FILE
    with os.fdopen(open_private(snapshot, os.O_WRONLY | os.O_TRUNC), "w", encoding="utf-8") as out:
        out.write(text)
    return LogRead(STREAM_NAME, str(snapshot), read_page(snapshot, lines, offset))
