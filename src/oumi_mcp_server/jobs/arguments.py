"""The job tools' arguments, checked before anything is read or started.

Every check is pure and runs first: a bad override, cloud or job name is an
error before any file is read, and says what to pass instead.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import CLOUD_ALIASES, LAUNCHER_CLOUDS, MAX_LOG_LINES
from oumi_mcp_server.jobs.commands import Override, check_command, check_envs, parse_overrides
from oumi_mcp_server.jobs.naming import check_job_id, generate_job_id, job_id_from_name
from oumi_mcp_server.jobs.status import ACTIVE, TERMINAL, JobState
from oumi_mcp_server.masking import shown

_ACCELERATORS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(:[1-9][0-9]{0,2})?$")


@dataclass(frozen=True)
class CloudResources:
    """What a generated launcher job asks its cloud for."""

    accelerators: str = ""
    disk_size_gb: int = 0
    use_spot: bool = False

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
    cluster = check_job_id(cluster_name, "cluster_name") if cluster_name.strip() else ""
    parsed = parse_overrides(list(overrides))
    checked_envs = check_envs(envs)
    if job_name.strip():
        job_id, generated = job_id_from_name(job_name), False
    else:
        job_id, generated = generate_job_id(name), True
    wanted = (resources or CloudResources()).check()
    return CheckedArgs(name, target, parsed, checked_envs, job_id, generated, cluster, wanted)


def check_cloud(cloud: str) -> str:
    """'' for the local process backend, else a cloud oumi.launcher knows."""
    target = cloud.strip().lower()
    target = CLOUD_ALIASES.get(target, target)
    if target and target not in LAUNCHER_CLOUDS:
        raise InvalidArgumentError(
            "cloud",
            f"{shown(cloud)} is not a cloud oumi.launcher knows.",
            next_step=f"Use '' (run here) or one of: {', '.join(LAUNCHER_CLOUDS)}.",
        )
    return target


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
