"""Job ids: generated ``<command>_<YYYYMMDD_HHMMSS>_<6 hex>``, or a caller's name made safe."""

from __future__ import annotations

import re
import secrets
import time

from oumi_mcp_server.errors import InvalidArgumentError

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
    """A safe job id from a caller-given name; traversal and separators are errors."""
    name = job_name.strip()
    if any(bad in name for bad in ("/", "\\", "\x00")) or ".." in name:
        raise InvalidArgumentError(
            "job_name",
            f"'{job_name}' contains a path separator, '..' or NUL.",
            next_step="Use a plain name such as 'llama-sft-lr3e4' (letters, digits, . _ -).",
        )
    safe = _UNSAFE.sub("_", name).strip("._-")
    if not safe:
        raise InvalidArgumentError(
            "job_name",
            f"'{job_name}' has no usable characters.",
            next_step="Use letters, digits, '.', '_' or '-', or leave job_name empty.",
        )
    if len(safe) > MAX_JOB_ID_LENGTH:
        raise InvalidArgumentError(
            "job_name",
            f"it is {len(safe)} characters long; the limit is {MAX_JOB_ID_LENGTH}.",
            next_step="Use a shorter name.",
        )
    return safe


def check_job_id(job_id: str, field: str = "job_id") -> str:
    """Reject anything that is not a well-formed job id (before it touches a path)."""
    value = job_id.strip()
    if not JOB_ID_PATTERN.match(value) or ".." in value:
        raise InvalidArgumentError(
            field, f"'{job_id}' is not a valid job id.", next_step=JOB_ID_HINT
        )
    return value
