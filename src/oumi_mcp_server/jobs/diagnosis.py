"""diagnose_job: why a job ended as it did (diagnosis/), with the job it belongs to.

What a diagnosis needs depends on the job's engine (``JobSignals``): a process job's
own log files and exit code; a launcher job's logs as its engine read them, with the
engine's state and reason. The job's staged config gives the patch, its output dir
(on this machine) the checkpoint to resume from. A finished job's diagnosis never
changes, so it is kept once in the job's run dir (``DIAGNOSIS_FILE``, private) and in
a small bounded memory (``DiagnosisMemory``). Blocking functions: the service calls
them in worker threads.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from oumi_mcp_server.diagnosis import Diagnosis, diagnose, diagnose_files
from oumi_mcp_server.errors import InvalidArgumentError, OumiMcpError
from oumi_mcp_server.jobs.backend import LogRead, Observation
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import (
    DiagnosisCandidate,
    DiagnosisEvidence,
    DiagnosisFix,
    JobDiagnosis,
)
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.paths import FileRole, resolve_project_file
from oumi_mcp_server.validation.documents import load_config_document

DIAGNOSIS_FILE = "diagnosis.json"
CACHE_FORMAT = 1  # bumped when the kept answer's shape changes: older files are recomputed
LOG_PATH_HINT = "Pass the path of a log file inside the project (client_cwd), e.g. logs/train.err."


@dataclass(frozen=True)
class JobSignals:
    """What the engine left of a finished job, as this machine can read it."""

    log_paths: list[Path] = field(default_factory=list)
    log_text: str = ""  # a cluster's log, as its engine read it (no file here)
    exit_code: int | None = None
    engine_state: str = ""
    engine_reason: str = ""
    config_path: Path | None = None
    output_dir: Path | None = None

    @property
    def sources(self) -> list[str]:
        return [str(path) for path in self.log_paths] + (
            ["the engine's log stream"] if self.log_text else []
        )


def job_signals(
    record: JobRecord, observation: Observation, reads: Sequence[LogRead]
) -> JobSignals:
    """The signals of one job: ``reads`` are its logs as a launcher engine read them (none
    for our own process jobs, whose log files are on this machine). Blocking (a stat of
    each log read)."""
    state = observation.state.value.upper()
    config = Path(record.staged_config_path) if record.staged_config_path else None
    if record.is_process:
        logs = [Path(path) for path in (record.stdout_path, record.stderr_path) if path]
        output = Path(record.client_cwd) / record.output_dir if record.output_dir else None
        return JobSignals(logs, "", observation.exit_code, state, "", config, output)
    local = [Path(read.path) for read in reads if read.path and Path(read.path).is_file()]
    text = "\n".join(read.page.text for read in reads if read.page.text)
    here = kind_of(record.cloud).runs_here and record.output_dir
    output = Path(record.client_cwd) / record.output_dir if here else None
    if len(local) == len(reads):  # files here: read whole within the budget, not a page
        text = ""
    else:
        local = []
    return JobSignals(local, text, observation.exit_code, state, observation.reason, config, output)


def diagnose_signals(signals: JobSignals, deadline: float | None = None) -> Diagnosis:
    """The diagnosis (blocking): the config is read with the project's bounded reader; a
    config that cannot be read only leaves the patch empty."""
    config: dict[str, Any] | None = None
    if signals.config_path is not None:
        try:
            config = load_config_document(signals.config_path, deadline).data
        except OumiMcpError:
            config = None
    common: dict[str, Any] = {
        "exit_code": signals.exit_code,
        "engine_state": signals.engine_state,
        "engine_reason": signals.engine_reason,
        "config": config,
        "output_dir": signals.output_dir,
    }
    if signals.log_text:
        return diagnose(signals.log_text, **common)
    return diagnose_files(signals.log_paths, **common)


def job_diagnosis(
    diagnosis: Diagnosis, *, job_id: str, state: str, sources: list[str], next_step: str
) -> JobDiagnosis:
    """The answer: the diagnosis in JSON-friendly form (paths as strings)."""
    fix = diagnosis.fix
    return JobDiagnosis(
        job_id=job_id,
        state=state,
        cause=diagnosis.cause,
        confidence=diagnosis.confidence,
        summary=diagnosis.summary,
        evidence=[
            DiagnosisEvidence(line=item.line, text=item.text, source=item.source)
            for item in diagnosis.evidence
        ],
        other_candidates=[
            DiagnosisCandidate(cause=item.cause, confidence=item.confidence)
            for item in diagnosis.other_candidates
        ],
        fix=DiagnosisFix(
            steps=list(fix.steps),
            config_patch=dict(fix.config_patch),
            envs_needed=list(fix.envs_needed),
            resume_from=str(fix.resume_from) if fix.resume_from is not None else None,
        ),
        log_sources=sources,
        next_step=next_step,
    )


def job_next_step(record: JobRecord, diagnosis: Diagnosis) -> str:
    job = f"job_id='{record.job_id}'"
    if diagnosis.cause == "none":
        return f"Nothing failed. get_job_logs({job}) shows what the job printed."
    envs = diagnosis.fix.envs_needed
    needs = f" Set {', '.join(envs)} (pass them in envs)." if envs else ""
    if diagnosis.fix.config_patch or diagnosis.fix.resume_from is not None:
        return (
            f"relaunch_job({job}) shows the patched config (written as a new file beside the "
            f"original) and the dry run; relaunch_job({job}, dry_run=false) launches it once "
            f"the user agrees.{needs}"
        )
    return (
        f"Follow fix.steps, then relaunch_job({job}) (or run_oumi_job) as a dry run before "
        f"launching again.{needs} get_job_logs({job}) shows more of the log."
    )


def not_finished_answer(record: JobRecord, observation: Observation) -> JobDiagnosis:
    """A job still going: nothing failed yet (an answer, not an error)."""
    job = f"job_id='{record.job_id}'"
    return JobDiagnosis(
        job_id=record.job_id,
        state=observation.state.value,
        cause="none",
        confidence=0.0,
        summary=f"The job is still {observation.state.value}: nothing failed yet.",
        fix=DiagnosisFix(steps=[]),
        next_step=f"Call diagnose_job({job}) again once it ends; subscribe to jobs://"
        f"{record.job_id} (or poll get_job_status) to hear when.",
    )


FileIdentity = tuple[int, int, int]  # device, inode, modification time (ns)


@dataclass(frozen=True)
class Kept:
    """A finished job's diagnosis as kept in its run dir, and which file version it is."""

    answer: JobDiagnosis
    path: Path
    identity: FileIdentity


def file_identity(path: Path) -> FileIdentity | None:
    """Which version of a file this is (None: there is none). Blocking."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_mtime_ns)


def kept_file(record: JobRecord) -> Path:
    return RunDir.of(record).path / DIAGNOSIS_FILE


def kept_diagnosis(record: JobRecord) -> Kept | None:
    """The diagnosis kept in the job's run dir, or None (blocking; a damaged or older file
    counts as none). Answered as cached."""
    path = kept_file(record)
    identity = file_identity(path)
    data = RunDir.of(record).read(DIAGNOSIS_FILE) if identity is not None else None
    if identity is None or data is None or data.get("format") != CACHE_FORMAT:
        return None
    try:
        answer = JobDiagnosis.model_validate(data.get("answer"))
    except ValueError:
        return None
    return Kept(answer.model_copy(update={"cached": True}), path, identity)


def keep_diagnosis(record: JobRecord, answer: JobDiagnosis) -> Kept | None:
    """Keep a finished job's diagnosis in its run dir (a private file; blocking). None when
    the run dir is gone."""
    run_dir = RunDir.of(record)
    if not run_dir.path.is_dir():
        return None
    run_dir.write(DIAGNOSIS_FILE, {"format": CACHE_FORMAT, "answer": answer.model_dump()})
    identity = file_identity(kept_file(record))
    if identity is None:
        return None
    return Kept(answer.model_copy(update={"cached": True}), kept_file(record), identity)


def still_kept(remembered: Kept) -> bool:
    """True while the remembered diagnosis is the file in the run dir (a job pruned, and its
    id taken again by a new job, has another file or none). Blocking: one stat."""
    return file_identity(remembered.path) == remembered.identity


def kept_for(records: Sequence[JobRecord], remembered: dict[str, Kept]) -> dict[str, Kept]:
    """The diagnoses kept for ``records``, by job id: each remembered one if it is still
    the file in its run dir, else the file read (blocking: a stat or a small file each)."""
    found: dict[str, Kept] = {}
    for record in records:
        known = remembered.get(record.job_id)
        current = known is not None and known.path == kept_file(record)  # a restart's attempt
        kept = known if known is not None and current and still_kept(known) else None
        kept = kept or kept_diagnosis(record)
        if kept is not None:
            found[record.job_id] = kept
    return found


class DiagnosisMemory:
    """Finished jobs' diagnoses, by job id, with the version of the file they were kept
    in (checked before use: a job id taken again is another job). Bounded, oldest
    forgotten first; a forgotten one is read from its run dir again. Event loop only."""

    MAX_ENTRIES = 2_000

    def __init__(self) -> None:
        self._entries: OrderedDict[str, Kept] = OrderedDict()

    def get(self, job_id: str) -> Kept | None:
        return self._entries.get(job_id)

    def snapshot(self, job_ids: Sequence[str]) -> dict[str, Kept]:
        return {job_id: kept for job_id in job_ids if (kept := self._entries.get(job_id))}

    def put(self, job_id: str, kept: Kept) -> None:
        self._entries[job_id] = kept
        self._entries.move_to_end(job_id)
        while len(self._entries) > self.MAX_ENTRIES:
            self._entries.popitem(last=False)

    def forget(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self._entries.pop(job_id, None)


# -- a log from elsewhere -----------------------------------------------------------------


LOG_ROLE = FileRole(
    "log_path",
    "Log file",
    "a log file",
    "Copy the log into the project (client_cwd) and pass its relative path, or list its "
    "folder in OUMI_MCP_ALLOWED_ROOTS (paths separated by ':') for the server.",
)


def check_log_file(log_path: str, client_cwd: Path, roots: Sequence[Path]) -> Path:
    """The log file the caller means: inside the project (or ``roots``) after symlinks, a
    readable regular file (never a pipe or device), resolved. Blocking."""
    resolved = resolve_project_file(log_path, client_cwd, roots, LOG_ROLE).resolve()
    if not os.access(resolved, os.R_OK):
        raise InvalidArgumentError(
            "log_path", f"{resolved} is not readable.", next_step=LOG_PATH_HINT
        )
    return resolved


def log_file_next_step(diagnosis: Diagnosis, cloud: str) -> str:
    if diagnosis.cause == "none":
        return "Nothing in this log names a failure; pass exit_code if the job's is known."
    where = f", cloud='{cloud}'" if cloud else ""
    return (
        "Apply fix.steps (and fix.config_patch, when the job's config is known) to the config, "
        f"then validate_config, pre_flight_check and run_oumi_job(...{where}) as a dry run."
    )
