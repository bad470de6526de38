"""The job tools' arguments, checked before anything is read or started.

Every check is pure and runs first: a bad override, cloud or job name is an
error before any file is read, and says what to pass instead.
"""

from __future__ import annotations

import os
import re
import struct
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import (
    CLOUD_ALIASES,
    JOB_ENV_DEFAULTS,
    JOB_MARKER_ENV,
    LAUNCHER_CLOUDS,
    MAX_LOG_LINES,
)
from oumi_mcp_server.jobs.commands import Override, check_command, check_envs, parse_overrides
from oumi_mcp_server.jobs.naming import (
    check_cluster_name,
    generate_job_id,
    job_id_from_name,
)
from oumi_mcp_server.jobs.status import ACTIVE, TERMINAL, JobState
from oumi_mcp_server.masking import shown

_TIME_LIMIT = re.compile(r"^(\d{1,6}|(\d{1,3}-)?\d{1,2}(:\d{2}){1,2})$")
_ACCELERATORS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(:[1-9][0-9]{0,2})?$")


@dataclass(frozen=True)
class CloudResources:
    """What a generated launcher job asks its cloud for."""

    accelerators: str = ""
    disk_size_gb: int = 0
    use_spot: bool = False
    cpus: int = 0  # 0: the cloud's (or the Slurm partition's) default
    memory_gb: int = 0
    time_limit: str = ""  # Slurm only: sbatch --time (minutes, or [D-]HH:MM:SS)

    def check(self) -> CloudResources:
        if self.accelerators and not _ACCELERATORS.match(self.accelerators):
            raise InvalidArgumentError(
                "accelerators",
                f"{shown(self.accelerators)} is not an accelerator spec.",
                next_step="Use NAME or NAME:COUNT, e.g. 'A100:1' or 'H100:8' "
                "(`sky show-gpus` lists them).",
            )
        if not 0 <= self.disk_size_gb <= 65536:
            raise InvalidArgumentError(
                "disk_size_gb",
                f"{self.disk_size_gb} is not a disk size in GB.",
                next_step="Use 0 for the cloud's default, or a size such as 256.",
            )
        if not 0 <= self.cpus <= 4096:
            raise InvalidArgumentError(
                "cpus", f"{self.cpus} is not a CPU count.", next_step="Use 0 (default) to 4096."
            )
        if not 0 <= self.memory_gb <= 65536:
            raise InvalidArgumentError(
                "memory_gb",
                f"{self.memory_gb} is not a memory size in GB.",
                next_step="Use 0 for the default, or a size such as 64.",
            )
        if self.time_limit and not _TIME_LIMIT.match(self.time_limit):
            raise InvalidArgumentError(
                "time_limit",
                f"{shown(self.time_limit)} is not a Slurm time limit.",
                next_step="Use minutes ('90'), HH:MM:SS ('01:30:00') or D-HH:MM:SS ('2-00:00:00').",
            )
        return self


@dataclass(frozen=True)
class CheckedArgs:
    """run_oumi_job's arguments, checked (the config itself is read later, once)."""

    command: str
    cloud: str  # '' for a run here, else a cloud oumi.launcher knows
    overrides: list[Override]
    envs: dict[str, str]
    job_id: str
    id_generated: bool
    cluster_name: str = ""
    resources: CloudResources = CloudResources()
    attempt: int = 1  # a restart's attempt (jobs/policies/restarts.py): its own run dir


def check_arguments(
    command: str,
    *,
    job_name: str,
    cloud: str,
    cluster_name: str,
    envs: Mapping[str, str],
    overrides: Sequence[str],
    resources: CloudResources | None = None,
) -> CheckedArgs:
    name = check_command(command)
    target = check_cloud(cloud)
    cluster = check_cluster_name(cluster_name) if cluster_name.strip() else ""
    parsed = parse_overrides(list(overrides))
    checked_envs = check_envs(envs)
    check_exec_limits(checked_envs, parsed, inherit_environment=target in ("", "local"))
    if job_name.strip():
        job_id, generated = job_id_from_name(job_name), False
    else:
        job_id, generated = generate_job_id(name), True
    wanted = (resources or CloudResources()).check()
    return CheckedArgs(name, target, parsed, checked_envs, job_id, generated, cluster, wanted)


def check_cloud(cloud: str) -> str:
    """'' for the process backend (run here), else a cloud oumi.launcher knows."""
    target = cloud.strip().lower()
    target = CLOUD_ALIASES.get(target, target)
    if target and target not in LAUNCHER_CLOUDS:
        raise InvalidArgumentError(
            "cloud",
            f"{shown(cloud)} is not a cloud oumi.launcher knows.",
            next_step=f"Use '' (run here) or one of: {', '.join(LAUNCHER_CLOUDS)}.",
        )
    return target


# -- what exec can pass ------------------------------------------------------------------
# Linux (fs/exec.c) refuses with E2BIG a single argv/envp string longer than
# MAX_ARG_STRLEN (32 pages, its NUL included), and argv + envp together (strings,
# NULs and one pointer each) beyond the stack limit / 4, capped at 3/4 of 8 MiB;
# glibc's sysconf(SC_ARG_MAX) gives the stack limit / 4 without that cap. A cloud VM
# is Linux too: its processes get the same per-string limit.

PAGE_BYTES = 4096  # when this system does not say (cloud VMs: x86-64 and arm64 Linux)
ARG_STRLEN_PAGES = 32
ARG_MAX_CAP = 6 * 1024 * 1024
ARG_MAX_FALLBACK = 128 * 1024  # POSIX's minimum, the floor Linux keeps
POINTER_BYTES = struct.calcsize("P")
# The argv beside the overrides (python, the wrapper, its run dir, oumi, the staged
# config path, the job's marker) and the variables the server adds: generously.
ARGV_ALLOWANCE = 16 * 1024
LARGE_CONTENT_HINT = (
    "Put large content in a file (e.g. in the project directory) and pass its path in "
    "the variable instead; the job reads the file."
)


def max_arg_strlen() -> int:
    """The most bytes one 'NAME=value' string may take, its terminating NUL included."""
    try:
        page = os.sysconf("SC_PAGE_SIZE") if sys.platform.startswith("linux") else PAGE_BYTES
    except (ValueError, OSError):
        page = PAGE_BYTES
    return ARG_STRLEN_PAGES * (page if page > 0 else PAGE_BYTES)


def arg_max() -> int:
    """The most bytes a new process may receive in argv and envp together."""
    try:
        limit = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        limit = -1
    if limit <= 0:
        return ARG_MAX_FALLBACK
    return min(limit, ARG_MAX_CAP) if sys.platform.startswith("linux") else limit


def _byte_length(text: str) -> int:
    try:
        return len(os.fsencode(text))
    except UnicodeEncodeError:  # refused where it matters; counting must not fail
        return len(text.encode("utf-8", "surrogatepass"))


def _exec_bytes(name: str, value: str) -> int:
    """What 'NAME=value' costs a new process: its bytes and NUL."""
    return _byte_length(f"{name}={value}") + 1


def check_exec_limits(
    envs: Mapping[str, str], overrides: Sequence[Override], *, inherit_environment: bool
) -> None:
    """Refuse envs the OS could not hand to the job's process (only names are shown:
    values may be secrets). ``inherit_environment``: the job also gets the server's."""
    per_string = max_arg_strlen()
    for name, value in envs.items():
        try:
            os.fsencode(value)
        except UnicodeEncodeError:
            raise InvalidArgumentError(
                "envs",
                f"the value of '{name}' has characters a process cannot receive "
                "(unpaired surrogates).",
                next_step="Pass the value as valid UTF-8 text.",
            ) from None
        size = _exec_bytes(name, value)
        if size > per_string:
            raise InvalidArgumentError(
                "envs",
                f"'{name}' is too large to pass to a process: its value is "
                f"{_byte_length(value)} bytes, and one 'NAME=value' environment string may "
                f"take at most {per_string - 1} bytes (the kernel's MAX_ARG_STRLEN, "
                f"{per_string} bytes with the terminating NUL).",
                next_step=LARGE_CONTENT_HINT,
            )
    inherited = {
        name: value
        for name, value in (os.environ.items() if inherit_environment else ())
        if name not in envs
    }
    environment = {**inherited, **JOB_ENV_DEFAULTS, **envs, JOB_MARKER_ENV: ""}
    ours = sum(_exec_bytes(name, value) + POINTER_BYTES for name, value in envs.items())
    theirs = sum(
        _exec_bytes(name, value) + POINTER_BYTES
        for name, value in environment.items()
        if name not in envs
    )
    argv = sum(_byte_length(o.argument) + 1 + POINTER_BYTES for o in overrides)
    total = ours + theirs + argv + ARGV_ALLOWANCE
    limit = arg_max()
    if total > limit:
        largest = sorted(envs, key=lambda name: _exec_bytes(name, envs[name]), reverse=True)[:3]
        listed = ", ".join(f"'{name}' ({_exec_bytes(name, envs[name])} bytes)" for name in largest)
        inherited_note = " inherited from the server's environment" if inherit_environment else ""
        raise InvalidArgumentError(
            "envs",
            f"the job's environment and arguments would take about {total} bytes ({ours} for "
            f"envs, {theirs}{inherited_note} or added by the server, {argv + ARGV_ALLOWANCE} "
            f"for the command line), more than the {limit} bytes this system lets a new "
            "process receive (ARG_MAX)."
            + (f" The largest variables in envs: {listed}." if listed else ""),
            next_step=LARGE_CONTENT_HINT
            + (" Or start the server with a smaller environment." if inherit_environment else ""),
        )


# -- list_jobs and get_job_logs ----------------------------------------------------------

STATUS_FILTERS = ("all", "active", "finished", *(state.value for state in JobState))
STATUS_ALIASES = {"canceled": "cancelled", "succeeded": "completed", "done": "finished"}
LOG_STREAMS = {"stdout": ("stdout",), "stderr": ("stderr",), "both": ("stdout", "stderr")}


def check_status_filter(status: str) -> str:
    wanted = status.strip().lower() or "all"
    wanted = STATUS_ALIASES.get(wanted, wanted)
    if wanted not in STATUS_FILTERS:
        raise InvalidArgumentError(
            "status",
            f"{shown(status)} is not a job status filter.",
            next_step=f"Use one of: {', '.join(STATUS_FILTERS)}.",
        )
    return wanted


def matches_filter(wanted: str, state: JobState) -> bool:
    return (
        wanted in ("all", state.value)
        or (wanted == "active" and state in ACTIVE)
        or (wanted == "finished" and state in TERMINAL)
    )


def check_log_request(stream: str, lines: int, offset: int | None) -> tuple[str, ...]:
    streams = LOG_STREAMS.get(stream.strip().lower())
    if streams is None:
        raise InvalidArgumentError(
            "stream",
            f"{shown(stream)} is not a log stream.",
            next_step="Use stdout, stderr or both.",
        )
    if offset is not None and len(streams) > 1:
        raise InvalidArgumentError(
            "offset",
            "paging needs one stream.",
            next_step="Pass stream='stdout' or stream='stderr' with offset.",
        )
    if offset is not None and offset < 0:
        raise InvalidArgumentError("offset", "it must be 0 or more.")
    if not 1 <= lines <= MAX_LOG_LINES:
        raise InvalidArgumentError("lines", f"it must be between 1 and {MAX_LOG_LINES}.")
    return streams
