"""Run until done: the restart policy of a job, and what it decides when an attempt ends.

A job launched with ``max_restarts`` is relaunched by the server, on the same engine,
when an attempt ends for a reason that is not the job's fault (a time limit, a
preemption, a lost node, no capacity, a NCCL timeout, ...), resuming from the newest
complete checkpoint of the previous attempt. Deterministic failures (a config error,
a missing dataset, an out-of-memory without a fix, ...) never restart. Pure functions
and values: the registry keeps the policy and the attempts, the service acts.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from oumi_mcp_server.diagnosis import CAUSES
from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.masking import shown
from oumi_mcp_server.settings import RESTART_BACKOFF_S

MAX_RESTARTS = 20
# The process engine's word for a job whose process vanished without an exit status (the
# machine restarted, or the wrapper was killed with SIGKILL).
LOST = "lost"
DEFAULT_RESTART_ON = ("time_limit", "preempted", "nccl_timeout", "no_capacity", LOST)
# Never restarted, whatever restart_on says: the same config fails the same way again.
NEVER_RESTARTED = frozenset(
    {"config_error", "dataset_not_found", "dataset_split", "chat_template_missing", "hf_auth"}
    | {"hf_access_denied", "credentials_missing", "none"}
)
SIGNALS = tuple(sorted(f"SIG{name[3:]}" for name in signal.Signals.__members__))
BACKOFF_S = RESTART_BACKOFF_S  # before restart 1, 2, 3 and later (settings.py)

Decision = Literal["restart", "gave_up", "not_restartable", "stopped", "completed"]


@dataclass(frozen=True)
class RestartRequest:
    """What a restart needs to launch the job again as it was asked for (no env values:
    they live in the run dir's private file, never in the registry)."""

    command: str
    cloud: str
    cluster_name: str
    overrides: tuple[str, ...]
    resources: dict[str, Any] = field(default_factory=dict)
    env_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class RestartPolicy:
    max_restarts: int
    restart_on: tuple[str, ...]
    request: RestartRequest
    backoff_s: tuple[float, ...] = BACKOFF_S

    def backoff_before(self, restart_number: int) -> float:
        """Seconds to wait before restart ``restart_number`` (1-based)."""
        index = min(restart_number, len(self.backoff_s)) - 1
        return self.backoff_s[index] if self.backoff_s else 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RestartPolicy:
        data = json.loads(text)
        request = data["request"]
        return cls(
            max_restarts=int(data["max_restarts"]),
            restart_on=tuple(data["restart_on"]),
            request=RestartRequest(
                command=request["command"],
                cloud=request["cloud"],
                cluster_name=request["cluster_name"],
                overrides=tuple(request["overrides"]),
                resources=dict(request.get("resources") or {}),
                env_names=tuple(request.get("env_names") or ()),
            ),
            backoff_s=tuple(float(value) for value in data.get("backoff_s", BACKOFF_S)),
        )


@dataclass(frozen=True)
class Attempt:
    """One attempt of a run, as the registry keeps it."""

    attempt: int
    engine_job_id: str
    started_at: float | None
    resumed_from: str = ""
    ended_at: float | None = None
    end_state: str = ""
    cause: str = ""
    decision: str = ""  # '' while it runs (or until the server decides)
    restart_at: float | None = None
    claimed_by: str = ""
    relaunched: bool = False


def current_attempt(attempts: Sequence[Attempt], attempt: int) -> Attempt | None:
    """The row of attempt number ``attempt`` (a record's current one), if kept."""
    return next((row for row in attempts if row.attempt == attempt), None)


def check_restart_arguments(max_restarts: int, restart_on: Sequence[str] | None) -> tuple[str, ...]:
    """The restart_on list to keep (the default when not given); errors say what is allowed."""
    if not 0 <= max_restarts <= MAX_RESTARTS:
        raise InvalidArgumentError(
            "max_restarts",
            f"{max_restarts} is not between 0 and {MAX_RESTARTS}.",
            next_step="Use 0 (no restarts, the default) up to "
            f"{MAX_RESTARTS} restarts after the first attempt.",
        )
    if restart_on is None:
        return DEFAULT_RESTART_ON
    allowed = {*CAUSES, LOST, *SIGNALS} - NEVER_RESTARTED
    unknown = [cause for cause in restart_on if cause not in allowed]
    if unknown:
        never = sorted(set(unknown) & NEVER_RESTARTED)
        why = (
            f"{', '.join(never)} never restart (the same config fails the same way again)"
            if never
            else f"{', '.join(shown(cause, 40) for cause in unknown[:5])} is not a cause"
        )
        raise InvalidArgumentError(
            "restart_on",
            f"{why}.",
            next_step="Use causes of diagnose_job's vocabulary (time_limit, preempted, "
            f"nccl_timeout, no_capacity, ...), '{LOST}' (the process vanished: the machine "
            "restarted) or signal names (SIGKILL, SIGTERM).",
        )
    if not restart_on:
        raise InvalidArgumentError(
            "restart_on",
            "an empty list would never restart.",
            next_step="Leave it out for the default list, or set max_restarts=0.",
        )
    return tuple(dict.fromkeys(restart_on))


def decide(policy: RestartPolicy, attempt: int, end_state: str, cause: str) -> Decision:
    """What the server does when attempt ``attempt`` (1-based) ended in ``end_state`` for
    ``cause`` (a diagnosis id, 'lost', or a signal name)."""
    if end_state == "completed":
        return "completed"
    if end_state == "cancelled" and cause not in policy.restart_on:
        return "stopped"
    if cause in NEVER_RESTARTED or cause not in policy.restart_on:
        return "not_restartable"
    if attempt > policy.max_restarts:
        return "gave_up"
    return "restart"


def next_action(attempt: Attempt | None, policy: RestartPolicy, now: float) -> str:
    """The next action for the run, in words (for get_job_status)."""
    if attempt is None or not attempt.decision:
        return "none: the attempt runs" if attempt is not None else ""
    if attempt.decision == "restart":
        if attempt.relaunched:
            return f"restarted as attempt {attempt.attempt + 1}"
        wait = max(0.0, (attempt.restart_at or now) - now)
        return f"restarting in {wait:.0f} s" if wait >= 1 else "restarting now"
    if attempt.decision == "gave_up":
        return f"gave up: max_restarts reached ({policy.max_restarts})"
    if attempt.decision == "not_restartable":
        return f"not restartable: {attempt.cause or 'unknown cause'}"
    if attempt.decision == "stopped":
        return "stopped: cancelled (no more restarts)"
    return "done: completed"


def resume_override(checkpoint: str) -> str:
    return f"training.resume_from_checkpoint={checkpoint}"


def without_resume(overrides: Sequence[str]) -> tuple[str, ...]:
    """The request's overrides without a resume option (each restart sets its own)."""
    keys = ("training.resume_from_checkpoint=", "training.try_resume_from_last_checkpoint=")
    return tuple(item for item in overrides if not item.startswith(keys))
