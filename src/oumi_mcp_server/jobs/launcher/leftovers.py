"""What oumi's local cloud leaves running: a job is over only when its processes are.

The local cloud runs a job's run block in a shell; its cancel terminates that
shell only, and a run block's background processes outlive its end. Every
job we launch carries our job id in its environment (``JOB_MARKER_ENV``), so
its processes can be found: while any is alive, a job the launcher reports
ended reads ``running``, and cancel_job stops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs.backend import FinalStates, Observation
from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.os_processes import processes_by_env, processes_with_env, stop_processes
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.settings import LauncherLimits


def stop_leftovers(job_id: str, grace_s: float) -> list[str]:
    """Blocking: SIGTERM, then SIGKILL, the live processes of the job; the signals sent."""
    return stop_processes(processes_with_env(JOB_MARKER_ENV, job_id), grace_s)


class Leftovers:
    def __init__(self, limits: LauncherLimits) -> None:
        self._limits = limits
        self._clear = FinalStates()  # ended jobs seen with no process left (never change)

    def forget(self, job_id: str) -> None:
        self._clear.pop(job_id)

    async def unless_alive(
        self, records: Sequence[JobRecord], observed: Sequence[Observation]
    ) -> list[Observation]:
        """Each observation, except that a local-cloud job reported ended whose processes
        are still alive reads ``running`` with the reason (one look at the table)."""
        answers = list(observed)
        suspects = {
            record.job_id: index
            for index, (record, observation) in enumerate(zip(records, observed, strict=True))
            if kind_of(record.cloud).leaves_processes_here
            and is_terminal(observation.state)
            and self._clear.get(record.attempt_key) is None
        }
        if not suspects:
            return answers
        alive = await run_blocking(
            lambda: processes_by_env(JOB_MARKER_ENV, set(suspects)),
            timeout_s=self._limits.status_s,
            what="Looking for the job's processes",
        )
        for job_id, index in suspects.items():
            survivors = alive.get(job_id, [])
            if survivors:
                answers[index] = _still_running(answers[index], len(survivors))
            else:
                self._clear.put(records[index].attempt_key, answers[index])
        return answers

    async def stop(self, record: JobRecord) -> list[str]:
        grace_s = self._limits.survivor_grace_s
        return await run_blocking(
            lambda: stop_leftovers(record.job_id, grace_s),
            timeout_s=self._limits.cancel_s,
            what="Stopping the job's processes",
        )


def _still_running(ended: Observation, count: int) -> Observation:
    processes = f"{count} process{'' if count == 1 else 'es'}"
    return replace(
        ended,
        state=JobState.RUNNING,
        reason=f"oumi.launcher reports the job {ended.state.value} ({ended.reason}), but "
        f"{processes} of the job {'is' if count == 1 else 'are'} still running",
        ended_at=None,
    )


def leftovers_message(action: str, final: Observation, signals: list[str]) -> str:
    stopped = " then ".join(signals) or "nothing (they had just ended)"
    if action == "cancelled":
        return (
            f"oumi.launcher had already reported the job ended; stopped the processes it "
            f"left running ({stopped}). It is {final.state.value}."
        )
    return (
        f"Sent {stopped} to the job's leftover processes, but some are still alive. "
        "Call cancel_job again."
    )
