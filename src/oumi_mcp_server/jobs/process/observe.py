"""Derive a process job's state from the engine itself: its process and its run-dir files.

Order matters. The wrapper writes ``exit.json`` before it exits, so the exit
file is read first (a finished job needs no process lookup); if it is absent
the process is checked, and if that is gone too the exit file is read once
more (it may have been written in between). A job is over only when no
process of its group is left: a recorded exit with members still alive, or a
dead wrapper whose command lives on, reads ``running`` with the reason; so does a job
with stopped processes (SIGSTOP), which cancel still ends (it sends SIGCONT too).
Nothing here is cached.
Blocking (file and /proc reads): call from worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import (
    describe_exit,
    is_our_process,
    job_processes,
    process_groups,
    stopped,
)
from oumi_mcp_server.jobs.process.files import read_exit, read_pid
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.status import JobState

# A record without a process is "launching" for this long, then "lost".
LAUNCH_GRACE_S = 120.0
LOST_REASON = (
    "lost: the process is gone and recorded no exit status (killed with SIGKILL, "
    "out of memory, or the machine restarted)"
)


def process_identity(record: JobRecord, run: RunDir) -> tuple[int | None, float | None]:
    """The wrapper's pid and when it started: the pid from the record, else from the
    wrapper's pid file; the time from the pid file (the wrapper's clock), else the record."""
    info = read_pid(run) or {}
    started = _number(info.get("started_at")) or record.process_start_time
    if record.pid:
        return record.pid, started
    if isinstance(info.get("pid"), int):
        return int(info["pid"]), started
    return None, None


def _from_exit(
    exit_info: dict[str, Any], cancel: dict[str, Any] | None, pid: int | None
) -> Observation:
    raw = exit_info.get("exit_code")
    code = int(raw) if isinstance(raw, int) else -1
    ended = _number(exit_info.get("ended_at"))
    started = _number(exit_info.get("started_at"))
    requested = _number(cancel.get("requested_at")) if cancel else None
    if requested is not None and (ended is None or requested <= ended):
        return Observation(
            JobState.CANCELLED,
            f"cancelled by cancel_job; the process ended with {describe_exit(code)}",
            code,
            started,
            ended,
            pid,
        )
    if code == 0:
        return Observation(JobState.COMPLETED, "exit code 0", 0, started, ended, pid)
    reason = describe_exit(code)
    error = exit_info.get("error")
    if isinstance(error, str) and error:
        reason += f": {error}"
    return Observation(JobState.FAILED, reason, code, started, ended, pid)


def observe_process(
    record: JobRecord,
    *,
    launching: bool,
    groups: Callable[[], dict[int, list[int]]] = process_groups,
    now: float | None = None,
) -> Observation:
    """``groups``: the process table by group (a batch shares one look at the table). A
    running job's group is looked at for members that are stopped (SIGSTOP): the job
    is alive but makes no progress, and its reason says so."""
    run = RunDir.of(record)
    exit_info = read_exit(run)
    pid, start_time = process_identity(record, run)
    if exit_info is not None:
        ended = _from_exit(exit_info, run.read_cancel(), record.pid or pid)
        return _unless_survivors(ended, record, pid, groups)
    # Only the recorded start time is the OS's own (the pid file's is the wrapper's clock).
    if pid is not None and is_our_process(pid, record.process_start_time, record.marker):
        reason = f"process {pid} is running"
        halted = stopped(groups().get(pid, [pid]))
        if halted:
            reason = (
                f"process {pid} is running, but {_count(halted)} of the job "
                f"{'is' if len(halted) == 1 else 'are'} stopped (SIGSTOP or Ctrl-Z): it makes "
                "no progress until it gets SIGCONT (kill -CONT); cancel_job still ends it"
            )
        if run.read_cancel():
            reason += "; a cancel was requested and it is stopping"
        return Observation(JobState.RUNNING, reason, None, start_time, None, pid)
    exit_info = read_exit(run)
    cancel = run.read_cancel()
    if exit_info is not None:
        return _unless_survivors(_from_exit(exit_info, cancel, pid), record, pid, groups)
    moment = time.time() if now is None else now
    if pid is None:
        if cancel and not launching:  # a spawn still running elsewhere starts nothing either
            return Observation(JobState.CANCELLED, "cancelled before the process started")
        if launching or moment - record.submitted_at < LAUNCH_GRACE_S:
            return Observation(JobState.LAUNCHING, "starting the process")
        return Observation(JobState.FAILED, "lost: the process never started")
    survivors = job_processes(groups(), pid, JOB_MARKER_ENV, record.job_id)
    if survivors:
        reason = (
            f"the job's wrapper (process {pid}) died; {_count(survivors)} of the job "
            f"{'is' if len(survivors) == 1 else 'are'} still running"
        )
        if cancel:
            reason += "; a cancel was requested and it is stopping"
        return Observation(JobState.RUNNING, reason, None, start_time, None, pid)
    cancelled_at = _number(cancel.get("requested_at")) if cancel else None
    if cancel:
        return Observation(
            JobState.CANCELLED,
            "cancelled by cancel_job (the process group was killed before it could record "
            "an exit status)",
            None,
            start_time,
            cancelled_at,
            pid,
        )
    return Observation(JobState.FAILED, LOST_REASON, None, start_time, None, pid)


def _unless_survivors(
    ended: Observation,
    record: JobRecord,
    pid: int | None,
    groups: Callable[[], dict[int, list[int]]],
) -> Observation:
    """A recorded exit is the job's end only once no other process of its group lives
    (the wrapper itself may still be on its way out)."""
    if pid is None:
        return ended
    survivors = [
        member
        for member in job_processes(groups(), pid, JOB_MARKER_ENV, record.job_id)
        if member != pid
    ]
    if not survivors:
        return ended
    return Observation(
        JobState.RUNNING,
        f"the command ended ({ended.reason}), but {_count(survivors)} of the job "
        f"{'is' if len(survivors) == 1 else 'are'} still running",
        None,
        ended.started_at,
        None,
        pid,
    )


def _count(pids: list[int]) -> str:
    return f"{len(pids)} process{'' if len(pids) == 1 else 'es'}"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None
