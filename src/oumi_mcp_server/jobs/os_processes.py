"""OS process identity and signals, for both engines: is this pid still ours, stop a group.

A pid alone is not an identity: after a job ends the OS may give its pid to
another process. A job is "ours and alive" only if the pid exists, is not a
zombie, started when we recorded it did, and carries our marker on its
command line. Blocking (reads /proc): call from worker threads.
"""

from __future__ import annotations

import os
import signal

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
    import psutil

    members = []
    for pid in psutil.pids():
        try:
            if os.getpgid(pid) != pgid:
                continue
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                members.append(pid)
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return members


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
