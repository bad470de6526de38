"""Canonical states for launcher jobs, from the one table in jobs/status.py."""

from __future__ import annotations

from oumi_mcp_server.jobs.status import JobState, from_engine_state


def canonical_state(state: str | None, status_text: str | None, done: bool) -> str:
    """Our state for a launcher job: its ``state`` first, then its status text, then ``done``."""
    for raw in (state, status_text):
        if raw:
            found = from_engine_state(raw)
            if found is not None:
                return found.value
    return (JobState.COMPLETED if done else JobState.RUNNING).value
