"""Diagnose a finished job: its cause, the evidence, the fix.

``diagnose`` takes the log as text or as lines (a stream is read within the byte
budget, never whole); ``diagnose_file`` and ``diagnose_files`` read log files the
same bounded way (head and tail, ``max_bytes`` each). Pure and synchronous: the
caller runs it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from oumi_mcp_server.diagnosis.advice import SENTENCES, STEPS, envs_needed
from oumi_mcp_server.diagnosis.checkpoints import newest_checkpoint
from oumi_mcp_server.diagnosis.logfile import (
    DEFAULT_MAX_BYTES,
    LogText,
    Segment,
    lines_log,
    read_log,
    text_log,
)
from oumi_mcp_server.diagnosis.models import Diagnosis, Evidence, Fix
from oumi_mcp_server.diagnosis.patches import config_patch
from oumi_mcp_server.diagnosis.ranks import without_record_header
from oumi_mcp_server.diagnosis.scanner import Finding, scan
from oumi_mcp_server.diagnosis.signals import Outcome, engine_signals, outcome
from oumi_mcp_server.diagnosis.verdict import Choice, choose
from oumi_mcp_server.masking import mask_text

LogSource = str | bytes | Iterable[str]
MAX_EVIDENCE = 5
MAX_EVIDENCE_CHARS = 300
MAX_QUOTE_CHARS = 200


def diagnose(
    log: LogSource,
    *,
    exit_code: int | None,
    engine_state: str = "",
    engine_reason: str = "",
    config: Mapping[str, Any] | None = None,
    output_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Diagnosis:
    """Diagnose a job from its log (text, bytes or lines) and the engine's record of its end.

    ``exit_code`` follows Python's convention (-9 for a SIGKILL) or a shell's (137);
    ``engine_state`` / ``engine_reason`` are the engine's words (Slurm ``TIMEOUT``,
    ``JobState=... Reason=...``, SkyPilot's status and failure reason); ``config`` is the
    job's parsed config, for the patch; ``output_dir`` is searched for a checkpoint."""
    read = text_log(log, max_bytes) if isinstance(log, str | bytes) else lines_log(log, max_bytes)
    return diagnose_logs(
        [read],
        exit_code=exit_code,
        engine_state=engine_state,
        engine_reason=engine_reason,
        config=config,
        output_dir=output_dir,
    )


def diagnose_file(
    path: Path,
    *,
    exit_code: int | None,
    engine_state: str = "",
    engine_reason: str = "",
    config: Mapping[str, Any] | None = None,
    output_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Diagnosis:
    """``diagnose`` on a log file, reading at most ``max_bytes`` of it (its head and tail)."""
    return diagnose_files(
        [path],
        exit_code=exit_code,
        engine_state=engine_state,
        engine_reason=engine_reason,
        config=config,
        output_dir=output_dir,
        max_bytes=max_bytes,
    )


def diagnose_files(
    paths: Sequence[Path],
    *,
    exit_code: int | None,
    engine_state: str = "",
    engine_reason: str = "",
    config: Mapping[str, Any] | None = None,
    output_dir: Path | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Diagnosis:
    """``diagnose`` on several logs of one job (stdout and stderr, one file per rank), each
    read within ``max_bytes``. A log that cannot be read counts as empty."""
    logs = []
    for path in paths:
        try:
            logs.append(read_log(path, max_bytes))
        except OSError:
            continue
    return diagnose_logs(
        logs,
        exit_code=exit_code,
        engine_state=engine_state,
        engine_reason=engine_reason,
        config=config,
        output_dir=output_dir,
    )


def diagnose_logs(
    logs: Sequence[LogText],
    *,
    exit_code: int | None,
    engine_state: str = "",
    engine_reason: str = "",
    config: Mapping[str, Any] | None = None,
    output_dir: Path | None = None,
) -> Diagnosis:
    """The diagnosis from logs already read (see ``diagnose``)."""
    segments = [segment for log in logs for segment in log.segments]
    if engine_reason.strip():
        segments.append(Segment(engine_reason.encode("utf-8", errors="replace"), None, "engine"))
    findings = scan(segments)
    ended = outcome(exit_code, engine_state, engine_reason)
    choice = choose(findings, engine_signals(exit_code, engine_state, engine_reason), ended)
    resume_from = None
    if output_dir is not None and choice.cause != "none":
        resume_from = newest_checkpoint(output_dir)
    detail = "\n".join(_decisive_texts(choice))
    fix = Fix(
        steps=STEPS[choice.cause],
        config_patch=config_patch(choice.cause, config, detail, resume_from is not None),
        envs_needed=envs_needed(choice.cause, detail),
        resume_from=resume_from,
    )
    return Diagnosis(
        cause=choice.cause,
        confidence=choice.confidence,
        summary=_summary(choice, ended, exit_code, findings),
        evidence=_evidence(choice, exit_code),
        other_candidates=choice.candidates,
        fix=fix,
    )


def _decisive_texts(choice: Choice) -> list[str]:
    texts = [text for finding in choice.findings for text in (finding.text, *finding.continuation)]
    return texts + ([choice.signal.text] if choice.signal is not None else [])


def _summary(choice: Choice, ended: Outcome, exit_code: int | None, findings: list[Finding]) -> str:
    if choice.cause == "none":
        if ended == "cancelled":
            return "The job was cancelled; nothing failed."
        recovered = next((finding for finding in findings if finding.recovered), None)
        code = f" (exit code {exit_code})" if exit_code is not None else ""
        if recovered is not None:
            where = f" at line {recovered.line}" if recovered.line is not None else ""
            return (
                f"The job finished without error{code}; it recovered from a "
                f"{recovered.cause} error{where} along the way."
            )
        return f"The job finished without error{code}."
    sentence = SENTENCES[choice.cause]
    if choice.findings and choice.signal is None:
        deciding = choice.findings[0]
        where = ""
        if deciding.rank not in (None, "0") and not deciding.rank.startswith("pid="):
            where = f" on rank {deciding.rank}"
        message = " ".join((without_record_header(deciding.text), *deciding.continuation))
        quote = _cut(message, MAX_QUOTE_CHARS)
        return f"{sentence}{where}: {mask_text(quote)}"
    if choice.signal is not None:
        return f"{sentence} ({mask_text(_cut(choice.signal.text, MAX_QUOTE_CHARS))})."
    code = f" with exit code {exit_code}" if exit_code is not None else ""
    return f"The job failed{code}, but its log names no error."


def _evidence(choice: Choice, exit_code: int | None) -> tuple[Evidence, ...]:
    found: list[Evidence] = []
    if choice.signal is not None:
        found.append(
            Evidence(line=None, text=_shown(choice.signal.text), source=choice.signal.source)
        )
    for finding in choice.findings:
        found.append(Evidence(line=finding.line, text=_shown(finding.text), source=finding.source))
        for offset, text in enumerate(finding.continuation, start=1):
            line = finding.line + offset if finding.line is not None else None
            found.append(Evidence(line=line, text=_shown(text), source=finding.source))
    code_shown = choice.signal is not None and choice.signal.source == "exit code"
    if exit_code not in (None, 0) and not code_shown and choice.cause != "none":
        found.append(Evidence(line=None, text=f"exit code {exit_code}", source="exit code"))
    return tuple(found[:MAX_EVIDENCE])


def _shown(text: str) -> str:
    return mask_text(_cut(text, MAX_EVIDENCE_CHARS))


def _cut(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."
