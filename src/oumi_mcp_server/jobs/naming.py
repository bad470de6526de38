"""Job ids: generated ``<command>_<YYYYMMDD_HHMMSS>_<6 hex>``, or a caller's name made safe."""

from __future__ import annotations

import re
import secrets
import time

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.masking import shown

MAX_JOB_ID_LENGTH = 64
JOB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
JOB_ID_HINT = (
    "Job ids are letters, digits, '.', '_' and '-' (at most 64, no '..'); "
    "list_jobs shows the ids that exist."
)


def generate_job_id(command: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(time.time() if now is None else now))
    return f"{command}_{stamp}_{secrets.token_hex(3)}"


def job_id_from_name(job_name: str) -> str:
    """A caller-given name used as the job id as it is: refused, with a suggestion, when it
    is not one (never rewritten behind the caller's back)."""
    name = job_name.strip()
    if JOB_ID_PATTERN.match(name) and ".." not in name:
        return name
    safe = _UNSAFE.sub("_", name).replace("..", "_").strip("._-")[:MAX_JOB_ID_LENGTH]
    if len(name) > MAX_JOB_ID_LENGTH:
        problem = f"it is {len(name):,} characters long; the limit is {MAX_JOB_ID_LENGTH}."
    elif any(bad in name for bad in ("/", "\\", "\x00")) or ".." in name:
        problem = f"{shown(job_name)} contains a path separator, '..' or NUL."
    else:
        problem = f"{shown(job_name)} has characters a job id cannot have."
    suggestion = f"for example {safe!r}" if safe else "for example 'llama-sft-lr3e4'"
    raise InvalidArgumentError(
        "job_name",
        problem,
        next_step=f"Use letters, digits, '.', '_' and '-' only ({suggestion}), "
        "or leave job_name empty for a generated id.",
    )


def check_job_id(job_id: str, field: str = "job_id") -> str:
    """Reject anything that is not a well-formed job id (before it touches a path)."""
    value = job_id.strip()
    if not JOB_ID_PATTERN.match(value) or ".." in value:
        raise InvalidArgumentError(
            field, f"{shown(job_id)} is not a valid job id.", next_step=JOB_ID_HINT
        )
    return value


# Cluster names: a cloud's cluster, or ``user@host`` for Slurm and other HPC clusters.
CLUSTER_NAME_PATTERN = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(@[A-Za-z0-9][A-Za-z0-9.-]{0,252})?$"
)


def check_cluster_name(cluster_name: str, field: str = "cluster_name") -> str:
    """A cluster name, or ``user@host`` (never an ssh option: no leading '-', no spaces)."""
    value = cluster_name.strip()
    if not CLUSTER_NAME_PATTERN.match(value) or ".." in value:
        raise InvalidArgumentError(
            field,
            f"{shown(cluster_name)} is not a cluster name.",
            next_step="Use the cluster's name (letters, digits, . _ -), or user@host for a "
            "Slurm cluster (as in OUMI_SLURM_CONNECTIONS).",
        )
    return value
