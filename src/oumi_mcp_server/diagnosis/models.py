"""The diagnosis answer and its parts: a cause from a fixed vocabulary, the evidence, the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import ConfigDict, Field

from oumi_mcp_server.answer_model import AnswerModel

Cause = Literal[
    "gpu_oom",
    "host_oom",
    "shm_exhausted",
    "nccl_timeout",
    "nccl_error",
    "hf_auth",
    "hf_access_denied",
    "dataset_not_found",
    "dataset_split",
    "chat_template_missing",
    "nan_loss",
    "precision_unsupported",
    "flash_attn_missing",
    "flash_attn_abi",
    "version_mismatch",
    "no_kernel_image",
    "disk_full",
    "no_capacity",
    "preempted",
    "ssh_failed",
    "time_limit",
    "credentials_missing",
    "kv_cache_too_small",
    "config_error",
    "python_error",
    "none",
]
CAUSES: tuple[Cause, ...] = get_args(Cause)


class Evidence(AnswerModel):
    """One decisive line, secrets masked."""

    model_config = ConfigDict(frozen=True)

    line: int | None = Field(
        description="1-based line number in its source; None when it could not be counted."
    )
    text: str = Field(description="The line, cut to a readable length, secrets masked.")
    source: str = Field(
        default="log", description="Where it was read: a log file's name, 'engine' or 'exit code'."
    )


class Candidate(AnswerModel):
    """Another cause the signals point at, less strongly than the chosen one."""

    model_config = ConfigDict(frozen=True)

    cause: Cause
    confidence: float = Field(ge=0.0, le=1.0)


class Fix(AnswerModel):
    """What to change before running again."""

    model_config = ConfigDict(frozen=True)

    steps: tuple[str, ...] = Field(description="What to do, in plain words.")
    config_patch: dict[str, Any] = Field(
        default_factory=dict,
        description="Dotted keys from the config root (training.learning_rate) and their new "
        "values, computed from the job's config; empty when nothing in the config is at fault "
        "or the config was not given.",
    )
    envs_needed: tuple[str, ...] = Field(
        default=(), description="Environment variables the job needs set (names only)."
    )
    resume_from: Path | None = Field(
        default=None, description="The newest complete checkpoint folder to resume from."
    )


class Diagnosis(AnswerModel):
    """Why a job ended as it did, how sure that is, what shows it and how to fix it."""

    model_config = ConfigDict(frozen=True)

    cause: Cause
    confidence: float = Field(ge=0.0, le=1.0)
    summary: str = Field(description="One sentence a person understands.")
    evidence: tuple[Evidence, ...] = ()
    other_candidates: tuple[Candidate, ...] = ()
    fix: Fix
