"""Launcher job logs: files of oumi's local cloud, or a snapshot of a cluster's log stream.

Both are read with the same bounded tail/page functions as local jobs. A
cluster's stream (stdout and stderr combined) is saved in the run dir, so the
last read survives the cluster being deleted. Blocking: call from worker threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from oumi_mcp_server.jobs import logs
from oumi_mcp_server.jobs.backends.base import LogRead
from oumi_mcp_server.jobs.rundir import RunDir

STREAM_LOG_FILE = "stream.log"  # the last snapshot of a cloud job's log stream
STREAM_NAME = "output"  # a cluster's stream: stdout and stderr together


def page(path: Path, lines: int, offset: int | None) -> logs.LogPage:
    return logs.tail(path, lines) if offset is None else logs.read_from(path, offset, lines)


def local_cloud_logs(
    run: RunDir, streams: Sequence[str], lines: int, offset: int | None
) -> list[LogRead]:
    """oumi's local cloud writes <time>_<id>.stdout / .stderr into our logging dir."""
    reads = []
    for stream in streams:
        found = sorted(run.launcher_logs.glob(f"*.{stream}")) if run.launcher_logs.is_dir() else []
        if found:
            reads.append(LogRead(stream, str(found[-1]), page(found[-1], lines, offset)))
    return reads


def stream_snapshot(run: RunDir, text: str, lines: int, offset: int | None) -> LogRead:
    """Save what was read from a cluster's log stream, then read it like a log file."""
    snapshot = run.launcher_logs / STREAM_LOG_FILE
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.write_text(text, encoding="utf-8")
    return LogRead(STREAM_NAME, str(snapshot), page(snapshot, lines, offset))
