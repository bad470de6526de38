"""What Slurm says about a job's end, from the text oumi's slurm client hands back.

``scontrol show job`` prints ``key=value`` fields (``JobState=FAILED
Reason=NonZeroExitCode ExitCode=1:0``); squeue and sacct lines end with the
reason. A status shows Slurm's own reason and the exit code, not the whole dump.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FIELD = re.compile(r"\b(JobState|Reason|ExitCode)=(\S+)")
_EXIT = re.compile(r"^(\d+):(\d+)$")


@dataclass(frozen=True)
class SlurmDetail:
    summary: str  # e.g. "Reason=NonZeroExitCode ExitCode=1:0", or the raw line, shortened
    exit_code: int | None  # the job's exit code; -signal when a signal ended it


def slurm_detail(metadata: str) -> SlurmDetail:
    fields = dict(_FIELD.findall(metadata))
    if not fields:
        return SlurmDetail(" ".join(metadata.split())[:300], None)
    summary = " ".join(f"{key}={fields[key]}" for key in ("Reason", "ExitCode") if key in fields)
    return SlurmDetail(summary, _exit_code(fields.get("ExitCode", "")))


def _exit_code(raw: str) -> int | None:
    """Slurm's ``code:signal``: the signal wins (as a negative number) when it is set."""
    found = _EXIT.match(raw)
    if found is None:
        return None
    code, signum = int(found.group(1)), int(found.group(2))
    return -signum if signum else code
