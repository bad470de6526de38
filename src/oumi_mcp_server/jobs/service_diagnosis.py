"""JobService's diagnoses: why a job ended as it did, computed once per finished job.

A finished job's diagnosis never changes: the first call computes it from what its
engine left (jobs/diagnosis.py gathers the signals, diagnosis/ reads them) in a
worker thread under a time limit, keeps it in the job's run dir and in memory, and
every later call (diagnose_job, get_job_status, list_jobs) reads it back. list_jobs
only reads what was kept, never diagnoses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.diagnosis import diagnose_file
from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.jobs.arguments import check_cloud
from oumi_mcp_server.jobs.backend import LogRead, Observation
from oumi_mcp_server.jobs.catalog import MAX_LOG_LINES
from oumi_mcp_server.jobs.diagnosis import (
    Kept,
    check_log_file,
    diagnose_signals,
    job_diagnosis,
    job_next_step,
    job_signals,
    keep_diagnosis,
    kept_diagnosis,
    kept_file,
    kept_for,
    log_file_next_step,
    not_finished_answer,
    still_kept,
)
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import JobDiagnosis
from oumi_mcp_server.jobs.naming import check_job_id
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.service_base import JobServiceBase
from oumi_mcp_server.jobs.status import JobState, is_terminal
from oumi_mcp_server.paths import resolve_client_cwd
from oumi_mcp_server.validation.documents import deadline_after

logger = logging.getLogger(__name__)

DIAGNOSIS_TIMEOUT_S = 30.0  # reading at most 16 MB a log, the config, the checkpoints
# get_job_status waits this long for a failed job's first diagnosis; a slower one goes on
# in its thread and is kept, so a later call shows it.
STATUS_DIAGNOSIS_WAIT_S = 5.0
KEPT_READ_TIMEOUT_S = 5.0


class JobDiagnoses(JobServiceBase):
    async def diagnose(self, job_id: str) -> JobDiagnosis:
        """Why the job ended as it did, and the fix; a job still going answers so. A
        finished job's diagnosis, once made, comes back without asking the registry or the
        engine (one stat checks that it is still this job's)."""
        remembered = self._diagnoses.get(check_job_id(job_id))
        if remembered is not None and await self._still_kept(remembered):
            return remembered.answer
        record = await self._record(job_id)
        observation = (await self._holder(record).observe([record]))[0]
        if not is_terminal(observation.state):
            return not_finished_answer(record, observation)
        kept = await self._kept(record)
        return kept or await self._computed(record, observation, DIAGNOSIS_TIMEOUT_S)

    async def diagnose_log(
        self, log_path: str, client_cwd: str, exit_code: int | None = None, cloud: str = ""
    ) -> JobDiagnosis:
        """A log from elsewhere (inside the project or the allowed roots), diagnosed."""
        target = check_cloud(cloud) if cloud.strip() else ""
        roots = self._config_roots

        def work() -> JobDiagnosis:
            path = check_log_file(log_path, resolve_client_cwd(client_cwd), roots)
            found = diagnose_file(path, exit_code=exit_code)
            return job_diagnosis(
                found,
                job_id="",
                state="",
                sources=[str(path)],
                next_step=log_file_next_step(found, target),
            )

        return await run_blocking(
            work,
            timeout_s=DIAGNOSIS_TIMEOUT_S,
            what="Diagnosing the log file",
            next_step="The disk holding the log is not answering; check it, then call again.",
        )

    async def _kept(self, record: JobRecord) -> JobDiagnosis | None:
        """A finished job's diagnosis made earlier: remembered (and still its file), or
        read from its run dir; None when none was made."""
        remembered = self._diagnoses.get(record.job_id)
        current = remembered is not None and remembered.path == kept_file(record)
        if remembered is not None and current and await self._still_kept(remembered):
            return remembered.answer
        kept = await run_blocking(
            lambda: kept_diagnosis(record),
            timeout_s=KEPT_READ_TIMEOUT_S,
            what="Reading the job's diagnosis",
        )
        if kept is None:
            return None
        self._diagnoses.put(record.job_id, kept)
        return kept.answer

    async def _computed(
        self, record: JobRecord, observation: Observation, timeout_s: float
    ) -> JobDiagnosis:
        """A finished job's diagnosis made now from what its engine left, and kept."""
        reads: list[LogRead] = []
        if not (record.is_process or record.is_pending):  # its engine reads its logs
            reads = await self._holder(record).logs(
                record, ("stdout", "stderr"), lines=MAX_LOG_LINES, offset=None
            )
        deadline = deadline_after(DIAGNOSIS_TIMEOUT_S)

        def work() -> tuple[JobDiagnosis, Kept | None]:
            signals = job_signals(record, observation, reads)  # blocking: it looks at files
            found = diagnose_signals(signals, deadline)
            answer = job_diagnosis(
                found,
                job_id=record.job_id,
                state=observation.state.value,
                sources=signals.sources,
                next_step=job_next_step(record, found),
            )
            return answer, keep_diagnosis(record, answer)

        answer, made = await run_blocking(
            work,
            timeout_s=timeout_s,
            what="Diagnosing the job from its logs",
            next_step="Reading its logs took too long; call diagnose_job again, or read "
            "get_job_logs.",
        )
        if made is not None:
            self._diagnoses.put(record.job_id, made)
        return answer

    async def _failure_diagnosis(
        self, record: JobRecord, observation: Observation
    ) -> JobDiagnosis | None:
        """get_job_status of a failed job: its diagnosis, computed when its logs are on this
        machine (a cluster's are only shown once diagnose_job read them). Never raises: a
        status answers even when the diagnosis cannot be made."""
        if observation.state is not JobState.FAILED:
            return None
        here = record.is_process or record.is_pending or kind_of(record.cloud).runs_here
        try:
            kept = await self._kept(record)
            if kept is not None or not here:
                return kept
            return await self._computed(record, observation, STATUS_DIAGNOSIS_WAIT_S)
        except OumiMcpError as exc:
            logger.warning("Could not diagnose job %s: %s", record.job_id, exc.message)
        except Exception:  # the status matters more than its diagnosis
            logger.exception("Diagnosing job %s failed", record.job_id)
        return None

    async def _kept_causes(self, records: Sequence[JobRecord]) -> dict[str, JobDiagnosis]:
        """list_jobs: the diagnoses already made for these (failed) jobs, by job id, checked
        against (or read from) their run dirs in one worker thread. Never diagnoses."""
        if not records:
            return {}
        remembered = self._diagnoses.snapshot([record.job_id for record in records])
        try:
            kept = await run_blocking(
                lambda: kept_for(records, remembered),
                timeout_s=KEPT_READ_TIMEOUT_S,
                what="Reading the jobs' diagnoses",
            )
        except OumiMcpError as exc:
            logger.warning("Could not read kept diagnoses: %s", exc.message)
            return {}
        for job_id, found in kept.items():
            self._diagnoses.put(job_id, found)
        return {job_id: found.answer for job_id, found in kept.items()}

    async def _still_kept(self, remembered: Kept) -> bool:
        try:
            return await run_blocking(
                lambda: still_kept(remembered),
                timeout_s=KEPT_READ_TIMEOUT_S,
                what="Checking the job's diagnosis",
            )
        except OumiMcpError:
            return False
