"""Canonical job states, terminal finality, and the one table mapping engine states to ours."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    # Accepted; its config is validated and pre-flighted before anything starts.
    VALIDATING = "validating"
    QUEUED = "queued"
    LAUNCHING = "launching"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    # The engine no longer knows the job, or did not answer: nothing is claimed.
    UNKNOWN = "unknown"


TERMINAL = frozenset({JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED})
ACTIVE = frozenset({JobState.VALIDATING, JobState.QUEUED, JobState.LAUNCHING, JobState.RUNNING})


def is_terminal(state: JobState) -> bool:
    return state in TERMINAL


def advance(previous: JobState | None, observed: JobState) -> JobState:
    """The state to report after ``previous`` when the engine now says ``observed``.

    A terminal state is final: once a job was seen completed, failed or
    cancelled, no later observation moves it anywhere else.
    """
    if previous is not None and is_terminal(previous):
        return previous
    return observed


# Every engine state we know, mapped to a canonical state, in one place.
# Keys are lower-cased. Sources: our local wrapper; oumi.launcher's JobState
# (pending, running, succeeded, failed, cancelled); the free-text JobStatus.status
# of SkyPilot-backed clusters (INIT, PENDING, SETTING_UP, RUNNING, SUCCEEDED,
# FAILED, FAILED_SETUP, FAILED_DRIVER, FAILED_PRECHECKS, FAILED_NO_RESOURCE,
# FAILED_CONTROLLER, CANCELLED, CANCELLING, RECOVERING, STARTING); Slurm-style
# words (COMPLETING, TIMEOUT, PREEMPTED, NODE_FAIL, OUT_OF_MEMORY).
ENGINE_STATES: dict[str, JobState] = {
    # canonical names map to themselves
    **{state.value: state for state in JobState},
    # oumi.launcher JobState
    "pending": JobState.QUEUED,
    "succeeded": JobState.COMPLETED,
    # SkyPilot job / managed-job statuses
    "init": JobState.QUEUED,
    "setting_up": JobState.LAUNCHING,
    "starting": JobState.LAUNCHING,
    "recovering": JobState.RUNNING,
    "cancelling": JobState.RUNNING,
    "failed_setup": JobState.FAILED,
    "failed_driver": JobState.FAILED,
    "failed_precheck": JobState.FAILED,
    "failed_prechecks": JobState.FAILED,
    "failed_no_resource": JobState.FAILED,
    "failed_controller": JobState.FAILED,
    "canceled": JobState.CANCELLED,
    # Slurm and friends
    "configuring": JobState.LAUNCHING,
    "completing": JobState.RUNNING,
    "done": JobState.COMPLETED,
    "timeout": JobState.FAILED,
    "preempted": JobState.FAILED,
    "node_fail": JobState.FAILED,
    "out_of_memory": JobState.FAILED,
    "boot_fail": JobState.FAILED,
    "deadline": JobState.FAILED,
}


def from_engine_state(raw: str) -> JobState | None:
    """Our state for an engine's state word (``None`` when unknown)."""
    if raw.strip().lower() == JobState.UNKNOWN.value:
        return None  # an engine's "unknown" is not ours to repeat as a state
    key = raw.strip().lower().replace("-", "_").replace(" ", "_")
    if key.startswith("jobstate.") or key.startswith("jobstatus."):
        key = key.split(".", 1)[1]
    return ENGINE_STATES.get(key)
