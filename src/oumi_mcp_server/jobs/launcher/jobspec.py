"""Build the oumi JobConfig that runs a training/eval/infer config on a cloud.

The user's project (client_cwd) becomes the job's working_dir, so it is synced
to the VM and relative paths in their YAML resolve there exactly as locally.
The setup installs the same oumi version as the one validating here.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.kinds import kind_of

# Environment variable oumi's local cloud reads to write job logs to files.
LOCAL_LOGGING_DIR_ENV = "OUMI_LOGGING_DIR"


@dataclass(frozen=True)
class CloudJobRequest:
    job_id: str
    command: str
    config_path: Path  # the user's config, absolute
    client_cwd: Path  # becomes working_dir
    cloud: str
    oumi_version: str
    overrides: list[str] = field(default_factory=list)
    envs: dict[str, str] = field(default_factory=dict)
    accelerators: str | None = None
    disk_size: int | None = None
    use_spot: bool = False
    cpus: int = 0
    memory_gb: int = 0
    oumi_executable: str = "oumi"  # absolute path for the local cloud
    python_executable: str = "python"  # absolute path for the local cloud
    logs_dir: Path | None = None  # for the local cloud


def relative_config_path(config_path: Path, working_dir: Path) -> str:
    try:
        return str(config_path.resolve().relative_to(working_dir.resolve()))
    except ValueError:
        raise InvalidArgumentError(
            "config_path",
            f"{config_path} is outside client_cwd {working_dir}, so it would not be synced "
            "to the VM.",
            next_step="Move the config into the project directory and pass its relative path.",
        ) from None


def setup_script(request: CloudJobRequest) -> str | None:
    if kind_of(request.cloud).runs_here:
        return None  # runs on this machine, with this oumi
    return "\n".join(
        [
            "set -e",
            f'pip install -q "oumi[gpu]=={request.oumi_version}"',
        ]
    )


def run_script(request: CloudJobRequest) -> str:
    config = relative_config_path(request.config_path, request.client_cwd)
    argv = [request.oumi_executable, *request.command.split(), "-c", config, *request.overrides]
    # Record the oumi version in the job's log (a mismatch explains odd errors).
    version_line = (
        shlex.quote(request.python_executable)
        + " -c \"import importlib.metadata as m; print('oumi', m.version('oumi'))\" || true"
    )
    return "\n".join(["set -e", version_line, shlex.join(argv)])


def build_job_config(request: CloudJobRequest) -> dict[str, Any]:
    """The JobConfig (as a mapping) that runs ``request`` on its cloud."""
    envs = {**request.envs, JOB_MARKER_ENV: request.job_id}
    if kind_of(request.cloud).logs == "run_dir_files" and request.logs_dir is not None:
        envs[LOCAL_LOGGING_DIR_ENV] = str(request.logs_dir)
    resources: dict[str, Any] = {"cloud": request.cloud}
    if request.accelerators:
        resources["accelerators"] = request.accelerators
    if request.disk_size:
        resources["disk_size"] = request.disk_size
    if request.use_spot:
        resources["use_spot"] = True
    if request.cpus:
        resources["cpus"] = str(request.cpus)
    if request.memory_gb:
        resources["memory"] = str(request.memory_gb)
    job: dict[str, Any] = {
        "name": request.job_id,
        "working_dir": str(request.client_cwd),
        "resources": resources,
        "envs": envs,
        "run": run_script(request),
    }
    setup = setup_script(request)
    if setup:
        job["setup"] = setup
    return job
