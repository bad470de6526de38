"""What the engine's own record says: the exit code, the scheduler's state and reason.

The engine is the source of truth for how a job ended. Slurm's ``sacct`` state
(``TIMEOUT``, ``OUT_OF_MEMORY``, ``PREEMPTED``, ``NODE_FAIL``), SkyPilot's managed-job
status (``FAILED_NO_RESOURCE``) and ``scontrol``'s ``JobState=... Reason=...`` name a
cause outright: such a signal is *authoritative* and wins over the log. An exit code
only suggests one: 137 (128 + SIGKILL) or -9 is most often the kernel's OOM killer,
135 / -7 (SIGBUS) a DataLoader out of shared memory.
"""

from __future__ import annotations

import re
import signal
from dataclasses import dataclass
from typing import Literal

from oumi_mcp_server.diagnosis.models import Cause

Outcome = Literal["succeeded", "failed", "cancelled", "unknown"]

SUCCEEDED_STATES = frozenset({"COMPLETED", "SUCCEEDED", "SUCCESS", "DONE"})
CANCELLED_STATES = frozenset({"CANCELLED", "CANCELED", "CANCELLING"})
# State (or Slurm reason) -> (cause, confidence); all of them are failures.
_STATE_CAUSES: dict[str, tuple[Cause, float]] = {
    "TIMEOUT": ("time_limit", 0.95),
    "TIMELIMIT": ("time_limit", 0.95),
    "DEADLINE": ("time_limit", 0.9),
    "OUT_OF_MEMORY": ("host_oom", 0.95),
    "OUTOFMEMORY": ("host_oom", 0.95),
    "OOM": ("host_oom", 0.9),
    "PREEMPTED": ("preempted", 0.95),
    "PREEMPTION": ("preempted", 0.95),
    "NODE_FAIL": ("preempted", 0.6),
    "NODEFAIL": ("preempted", 0.6),
    "NODEDOWN": ("preempted", 0.6),
    "BOOT_FAIL": ("no_capacity", 0.6),
    "FAILED_NO_RESOURCE": ("no_capacity", 0.9),
}
_FAILED_STATES = frozenset(
    {"FAILED", "FAILED_SETUP", "FAILED_DRIVER", "FAILED_PRECHECKS", "FAILED_CONTROLLER", "ERROR"}
)
_WORD = re.compile(r"[A-Za-z_]+")
_SIGNAL_CAUSES: dict[int, tuple[Cause, float]] = {
    signal.SIGKILL: ("host_oom", 0.6),
    signal.SIGBUS: ("shm_exhausted", 0.5),
}


@dataclass(frozen=True)
class EngineSignal:
    cause: Cause
    confidence: float
    authoritative: bool  # the engine named it; an exit code only suggests it
    text: str  # what the engine said, for the evidence
    source: str  # "engine" or "exit code"


def outcome(exit_code: int | None, engine_state: str = "", engine_reason: str = "") -> Outcome:
    """How the job ended, by the engine's word first and its exit code second."""
    words = _words(engine_state) | _words(engine_reason)
    if words & (_FAILED_STATES | set(_STATE_CAUSES)):
        return "failed"
    if words & CANCELLED_STATES:
        return "cancelled"
    if exit_code is not None:
        return "succeeded" if exit_code == 0 else "failed"
    if words & SUCCEEDED_STATES:
        return "succeeded"
    return "unknown"


def engine_signals(
    exit_code: int | None, engine_state: str = "", engine_reason: str = ""
) -> list[EngineSignal]:
    """The causes the engine's record names (authoritative) or its exit code suggests."""
    found: list[EngineSignal] = []
    record = " ".join(part for part in (engine_state.strip(), engine_reason.strip()) if part)
    for word in sorted(_words(record) & set(_STATE_CAUSES)):
        cause, confidence = _STATE_CAUSES[word]
        found.append(EngineSignal(cause, confidence, True, record[:300], "engine"))
    number = signal_number(exit_code)
    if number in _SIGNAL_CAUSES:
        cause, confidence = _SIGNAL_CAUSES[number]
        name = signal.Signals(number).name
        found.append(
            EngineSignal(cause, confidence, False, f"exit code {exit_code} ({name})", "exit code")
        )
    return found


def signal_number(exit_code: int | None) -> int | None:
    """The signal that ended the process: -9 (Python's way) or 137 (a shell's, 128 + 9)."""
    if exit_code is None or exit_code == 0:
        return None
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 160:
        return exit_code - 128
    return None


def _words(text: str) -> set[str]:
    """Upper-cased words of a state, a reason or ``JobState=TIMEOUT Reason=TimeLimit``."""
    words = set()
    for word in _WORD.findall(text.replace("=", " ")):
        words.add(word.upper())
    return words
