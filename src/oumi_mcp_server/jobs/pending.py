"""The holder of accepted launches whose checks still run (records of the ``pending`` backend).

Their state comes from acceptance.py (the run dir and the owner's liveness);
they have no logs yet. A cancel asks the launch not to start; when the record
was handed over to its engine meanwhile, the engine cancels the job instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from oumi_mcp_server.errors import EngineUnavailableError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.acceptance import CancelRequest, observe_pending, request_cancel_pending
from oumi_mcp_server.jobs.backend import (
    CancelOutcome,
    JobHolder,
    LogRead,
    Observation,
    Survey,
    already_finished,
)
from oumi_mcp_server.jobs.records import PENDING_BACKEND, JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.status import JobState, is_terminal

STATUS_TIMEOUT_S = 15.0
WITHDRAWN = "nothing was started: the launch was blocked by its checks (see run_oumi_job's answer)"


class PendingLaunches:
    name = PENDING_BACKEND

    def __init__(self, registry: Registry, engines: Mapping[str, JobHolder]) -> None:
        self._registry = registry
        self._engines = engines

    async def observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        return await registry_ops.call(lambda: [observe_pending(record) for record in records])

    async def survey(self, records: Sequence[JobRecord], clouds: Sequence[str] = ()) -> Survey:
        return Survey(await self.observe(records))  # no clouds: ``clouds`` changes nothing

    async def cancel(self, record: JobRecord, *, force: bool) -> CancelOutcome:
        previous = (await self.observe([record]))[0]
        if is_terminal(previous.state):
            return already_finished(previous)

        def request_then_reread() -> tuple[CancelRequest, JobRecord | None]:
            # The launch hands over, then looks for this request; we write it, then look
            # whether it was handed over: one of the two always sees the other.
            requested = request_cancel_pending(record)
            return requested, self._registry.find(record.job_id)

        requested, current = await registry_ops.call(request_then_reread)
        if current is None:
            gone = Observation(JobState.CANCELLED, WITHDRAWN)
            return CancelOutcome("already_finished", previous, gone, f"Nothing to do: {WITHDRAWN}.")
        if not current.is_pending:  # its engine has it now: the engine cancels the job
            outcome = await self._engines[current.backend].cancel(current, force=force)
            return during_hand_over(outcome, previous) if requested == "first" else outcome
        if requested == "no_run_dir":
            raise EngineUnavailableError(
                f"The launch of '{record.job_id}' is accepted but has no run dir, so the "
                "cancel could not be recorded.",
                next_step=f"Call cancel_job(job_id='{record.job_id}') again in a moment; "
                "get_job_status says whether it started.",
            )
        final = (await self.observe([current]))[0]
        return CancelOutcome(
            "cancelled",
            previous,
            final,
            "Cancelled before start: the launch was still being checked; it will not start "
            "and nothing was started.",
        )

    async def logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        return []  # nothing runs yet

    async def failure_output(self, record: JobRecord, lines: int) -> dict[str, list[str]]:
        return {}

    async def recover(self) -> dict[str, int]:
        return {}  # an abandoned launch reads failed; a repeated request takes it over

    def forget(self, job_ids: Sequence[str]) -> None:
        return None


def during_hand_over(outcome: CancelOutcome, previous: Observation) -> CancelOutcome:
    """The engine's answer to a cancel that came while the launch was handed over to it.

    The launch looks for a cancel request right after the hand-over and does not start
    then, so the engine finds the job already cancelled: by this request, which is what
    the answer says (not "already finished")."""
    if outcome.action != "already_finished" or outcome.final.state is not JobState.CANCELLED:
        return outcome
    return CancelOutcome(
        "cancelled",
        previous,
        outcome.final,
        "Cancelled while the launch was handed over to its engine: it did not start, and "
        "nothing was started.",
        outcome.signals_sent,
    )
