"""One table from oumi.launcher's job states to our canonical states."""

from __future__ import annotations

# oumi.core.launcher.JobState values (JobStatus.state.value).
LAUNCHER_STATE_TO_CANONICAL = {
    "pending": "queued",
    "running": "running",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
}
# Free-text JobStatus.status values seen from the launcher's clients (local,
# SkyPilot, Slurm, Polaris), for when ``state`` is missing or unknown.
STATUS_TEXT_TO_CANONICAL = {
    "queued": "queued",
    "pending": "queued",
    "init": "launching",
    "initializing": "launching",
    "setting_up": "launching",
    "starting": "launching",
    "running": "running",
    "completed": "completed",
    "succeeded": "completed",
    "done": "completed",
    "failed": "failed",
    "failed_setup": "failed",
    "failed_driver": "failed",
    "failed_precheck": "failed",
    "failed_no_resource": "failed",
    "failed_controller": "failed",
    "error": "failed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "cancelling": "running",
}


def canonical_state(state: str | None, status_text: str | None, done: bool) -> str:
    """Our state for a launcher job: ``state`` first, then the status text, then ``done``."""
    if state and state.lower() in LAUNCHER_STATE_TO_CANONICAL:
        return LAUNCHER_STATE_TO_CANONICAL[state.lower()]
    text = (status_text or "").strip().lower().replace("jobstatus.", "")
    if text in STATUS_TEXT_TO_CANONICAL:
        return STATUS_TEXT_TO_CANONICAL[text]
    return "completed" if done else "running"
