"""OS process identity and signals, for both engines: is this pid still ours, stop a group.

A pid alone is not an identity: after a job ends the OS may give its pid to
another process. A job is "ours and alive" only if the pid exists, is not a
zombie, started when we recorded it did, and carries our marker on its
command line. A job is alive while any process of its group is: the group's
live members are found in one pass over the process table (``process_groups``)
and must carry the job's marker in their environment, so a reused group id is
never mistaken for the job. Standard library at import time (the job wrapper
uses the table too); psutil is imported where it is needed. Blocking (reads
/proc): call from worker threads.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

START_TIME_TOLERANCE_S = 1.0


def process_start_time(pid: int) -> float | None:
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def is_our_process(pid: int | None, start_time: float | None, marker: str) -> bool:
    if not pid or pid <= 0:
        return False
    import psutil

    try:
        process = psutil.Process(pid)
        with process.oneshot():
            if process.status() == psutil.STATUS_ZOMBIE:
                return False
            created = process.create_time()
            cmdline = process.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    if start_time is not None and abs(created - start_time) > START_TIME_TOLERANCE_S:
        return False
    return not marker or marker in cmdline


def group_exists(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> bool:
    """Send ``signum`` to every process of the group; False if the group is gone."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    return True


SIGNAL_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGKILL: "SIGKILL"}


def describe_exit(exit_code: int) -> str:
    if exit_code >= 0:
        return f"exit code {exit_code}"
    try:
        name = signal.Signals(-exit_code).name
    except ValueError:
        name = f"signal {-exit_code}"
    return f"killed by {name}"


def live_group_members(pgid: int) -> list[int]:
    """Pids of the group's processes that are not zombies (scans the process table)."""
    return process_groups().get(pgid, [])


PROC = Path("/proc")


def process_groups() -> dict[int, list[int]]:
    """Every live (non-zombie) process, by process group: one pass over the table."""
    if not (PROC / "self" / "stat").exists():
        return _process_groups_psutil()
    groups: dict[int, list[int]] = {}
    for entry in os.listdir(PROC):
        if not entry.isdigit():
            continue
        try:
            stat = (PROC / entry / "stat").read_bytes()
        except OSError:
            continue  # it ended while we looked
        # "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 3 or fields[0] in (b"Z", b"X"):
            continue
        groups.setdefault(int(fields[2]), []).append(int(entry))
    return groups


def stopped(pids: list[int]) -> list[int]:
    """Those of ``pids`` that are stopped (SIGSTOP, Ctrl-Z, a debugger): alive, but they
    make no progress until they get SIGCONT."""
    import psutil

    found = []
    for pid in pids:
        try:
            status = psutil.Process(pid).status()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if status in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP):
            found.append(pid)
    return found


def _process_groups_psutil() -> dict[int, list[int]]:
    import psutil

    groups: dict[int, list[int]] = {}
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            groups.setdefault(os.getpgid(process.pid), []).append(process.pid)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return groups


def environment_value(pid: int, name: str) -> str | None:
    """One variable of a process's environment (None if unset or unreadable)."""
    if not (PROC / "self" / "environ").exists():
        import psutil

        try:
            value = psutil.Process(pid).environ().get(name)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            return None
        return str(value) if value is not None else None
    try:
        raw = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return None
    prefix = name.encode() + b"="
    for item in raw.split(b"\0"):
        if item.startswith(prefix):
            return item[len(prefix) :].decode(errors="replace")
    return None


def job_processes(
    groups: dict[int, list[int]], pgid: int, marker_env: str, job_id: str
) -> list[int]:
    """The live members of group ``pgid`` that belong to the job (its marker in their
    environment): a group id the OS gave to someone else is never taken for the job."""
    return [pid for pid in groups.get(pgid, []) if environment_value(pid, marker_env) == job_id]


def processes_with_env(name: str, value: str) -> list[int]:
    """Pids of live processes (of this user) whose environment has ``name=value``.

    Used to find what a launcher job left running after its engine's own
    cancel: every job we launch carries our job id in its environment.
    """
    import psutil

    found = []
    for process in psutil.process_iter():
        try:
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(name) == value:
                found.append(process.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess, OSError):
            continue
    return found


def processes_by_env(name: str, values: set[str]) -> dict[str, list[int]]:
    """For each value, the live processes whose environment has ``name=value`` (one pass)."""
    found: dict[str, list[int]] = {}
    if not values:
        return found
    for pids in process_groups().values():
        for pid in pids:
            value = environment_value(pid, name) if pid != os.getpid() else None
            if value in values:
                found.setdefault(value, []).append(pid)
    return found


def stop_processes(pids: list[int], grace_s: float) -> list[str]:
    """SIGTERM each process, SIGKILL what is left after ``grace_s``; the signals sent."""
    import psutil

    processes = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            process.terminate()
            processes.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if not processes:
        return []
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        try:
            process.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    if alive:
        psutil.wait_procs(alive, timeout=grace_s)
        return ["SIGTERM", "SIGKILL"]
    return ["SIGTERM"]
