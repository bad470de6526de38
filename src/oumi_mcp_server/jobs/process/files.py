"""The files a process job keeps in its run dir: its logs and the wrapper's pid and exit records.

Standard library only (the wrapper imports it inside every job).
"""

from __future__ import annotations

from typing import Any

from oumi_mcp_server.jobs.rundir import RunDir

PID_FILE = "pid.json"
EXIT_FILE = "exit.json"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"


def stdout_log(run: RunDir) -> str:
    return str(run.path / STDOUT_FILE)


def stderr_log(run: RunDir) -> str:
    return str(run.path / STDERR_FILE)


def read_pid(run: RunDir) -> dict[str, Any] | None:
    """What the wrapper wrote when it started: its pid, start time and marker."""
    return run.read(PID_FILE)


def read_exit(run: RunDir) -> dict[str, Any] | None:
    """What the wrapper wrote when the command ended: exit code, times, signals, error."""
    return run.read(EXIT_FILE)
