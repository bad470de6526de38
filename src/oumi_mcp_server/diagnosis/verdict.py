"""Choose the root cause among everything the log and the engine point at.

The order of trust:

1. A run that ended well has no cause (``none``), whatever its log says.
2. The engine's own word (Slurm ``TIMEOUT``, ``OUT_OF_MEMORY``, ``PREEMPTED``).
3. The first *incident* in the log: the earliest fatal error that was not recovered
   from, with the lines right after it on the same rank (a chained traceback says
   the same thing twice, more or less precisely: the most confident line names it).
   The ranks that fail afterwards are left waiting for the first one, so the first
   failing rank carries the root cause.
4. An exit code that suggests a cause (137: killed, most often for memory).
5. A plain Python exception no rule names (``python_error``).
6. Consequences alone (NCCL timeouts with no rank's error in the log).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from oumi_mcp_server.diagnosis.models import Candidate, Cause
from oumi_mcp_server.diagnosis.scanner import Finding
from oumi_mcp_server.diagnosis.signals import EngineSignal, Outcome

INCIDENT_LINES = 200  # a traceback and its chained causes fit in this many lines
INCIDENT_BYTES = 32 * 1024  # the same, where line numbers are unknown
NO_EVIDENCE_CONFIDENCE = 0.2
MAX_CANDIDATES = 4


@dataclass(frozen=True)
class Choice:
    cause: Cause
    confidence: float
    findings: tuple[Finding, ...] = ()  # the decisive log lines, the deciding one first
    signal: EngineSignal | None = None  # the engine's word, when it decided
    candidates: tuple[Candidate, ...] = field(default=())


def choose(findings: list[Finding], signals: list[EngineSignal], ended: Outcome) -> Choice:
    """The root cause, the lines that show it, and the other causes in sight."""
    live = [finding for finding in findings if not finding.recovered]
    if ended == "succeeded":
        return Choice("none", 0.95 if not live else 0.9)
    primary = [f for f in live if not f.consequence and not f.generic]
    generic = [f for f in live if f.generic]
    consequences = [f for f in live if f.consequence]
    authoritative = [signal for signal in signals if signal.authoritative]
    inferred = [signal for signal in signals if not signal.authoritative]
    choice: Choice | None = None
    if authoritative:
        best = max(authoritative, key=lambda signal: signal.confidence)
        support = [f for f in live if f.cause == best.cause][:1]
        choice = Choice(best.cause, best.confidence, tuple(support), best)
    elif primary:
        choice = _from_findings(first_incident(primary))
    elif inferred:
        best = max(inferred, key=lambda signal: signal.confidence)
        choice = Choice(best.cause, best.confidence, (), best)
    elif generic:
        choice = _from_findings(first_incident(generic))
    elif consequences:
        choice = _from_findings(first_incident(consequences))
    if choice is None:
        if ended == "cancelled":
            return Choice("none", 0.6)
        cause: Cause = "python_error" if ended == "failed" else "none"
        return Choice(cause, NO_EVIDENCE_CONFIDENCE if ended == "failed" else 0.5)
    others = _candidates(choice, findings, signals)
    confidence = choice.confidence
    if _rival(choice.cause, live, signals) >= confidence - 0.05:
        confidence -= 0.1  # another cause is named about as firmly
    if ended == "unknown":
        confidence *= 0.8
    return Choice(choice.cause, round(confidence, 2), choice.findings, choice.signal, tuple(others))


def first_incident(findings: list[Finding]) -> list[Finding]:
    """The earliest finding and those right after it on the same rank (its chained lines)."""
    ordered = sorted(findings, key=lambda finding: finding.order)
    incident = [ordered[0]]
    for finding in ordered[1:]:
        if _same_incident(incident[-1], finding):
            incident.append(finding)
    return incident


def _same_incident(previous: Finding, finding: Finding) -> bool:
    if previous.order[0] != finding.order[0] or previous.source != finding.source:
        return False
    if previous.rank is not None and finding.rank is not None and previous.rank != finding.rank:
        return False
    if previous.line is not None and finding.line is not None:
        return finding.line - previous.line <= INCIDENT_LINES
    return finding.order[1] - previous.order[1] <= INCIDENT_BYTES


def _from_findings(incident: list[Finding]) -> Choice:
    deciding = max(incident, key=lambda finding: finding.confidence)  # the earliest on a tie
    rest = [finding for finding in incident if finding is not deciding]
    return Choice(deciding.cause, deciding.confidence, (deciding, *rest))


def _rival(cause: Cause, live: list[Finding], signals: list[EngineSignal]) -> float:
    """The confidence of the firmest other cause: fatal lines and the engine's word, not
    the consequences that follow a failure."""
    scores = [f.confidence for f in live if f.cause != cause and not f.consequence]
    scores += [s.confidence for s in signals if s.cause != cause and s.authoritative]
    return max(scores, default=0.0)


def _candidates(
    choice: Choice, findings: list[Finding], signals: list[EngineSignal]
) -> list[Candidate]:
    """Every other cause in sight, at its best confidence; recovered ones count for half.
    A plain Python error after the deciding line is that failure's own wrapper: left out."""
    best: dict[Cause, float] = {}
    decided_at = choice.findings[0].order if choice.findings else None
    for finding in findings:
        if finding.generic and decided_at is not None and finding.order > decided_at:
            continue
        weight = 0.5 if finding.recovered else 1.0
        score = finding.confidence * weight
        best[finding.cause] = max(best.get(finding.cause, 0.0), score)
    for signal in signals:
        best[signal.cause] = max(best.get(signal.cause, 0.0), signal.confidence)
    best.pop(choice.cause, None)
    ranked = sorted(best.items(), key=lambda item: -item[1])[:MAX_CANDIDATES]
    return [Candidate(cause=cause, confidence=round(score, 2)) for cause, score in ranked]
