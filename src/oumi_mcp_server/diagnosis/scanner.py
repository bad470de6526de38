"""Find the lines of a log that name a cause, and tell which ones the run got past.

Cost follows the answer, not the log: a handful of byte searches (``ANCHORS``) over
what was read picks the few lines worth a look; only those are decoded, stripped of
their launcher prefix (``[rank3]:``) and matched against ``RULES``. A plain Python
exception counts (as ``python_error``) only after a ``Traceback`` header of the same
rank, and a warning is never a cause. torchrun's ChildFailedError report is read for
its "Root Cause" alone: the other failures it lists are ranks it stopped itself.

A finding is *recovered* when the run went on after it: a retry right after
("Retrying in 1s [Retry 1/5]"), training that completed, or a progress bar that
moved on (the step count grew, or a new bar started and advanced).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from oumi_mcp_server.diagnosis.logfile import Segment
from oumi_mcp_server.diagnosis.models import Cause
from oumi_mcp_server.diagnosis.ranks import split_rank
from oumi_mcp_server.diagnosis.rules import ANCHORS, GENERIC_EXCEPTION, RULES

GENERIC_CONFIDENCE = 0.5
MAX_LINE_BYTES = 4096
# Warnings never stopped a run; nor are NCCL's INFO lines or Oumi's own INFO records a cause.
_NOT_A_CAUSE_PARTS = ("WARN", "NCCL INFO", "][INFO]]", "][DEBUG]]", "warnings.warn(")
_WARNING_CLASS = re.compile(r"[a-z]Warning\b")  # UserWarning, FutureWarning, ...
_GLOG_WARNING = re.compile(r"\[?W\d{3,4} ")  # c10's "[W302 12:41:02.4 file.cpp:12] ..."
_TRACEBACK = "Traceback (most recent call last)"
_CHILD_FAILED = "ChildFailedError"
_ROOT_CAUSE = re.compile(
    rb"Root Cause \(first observed failure\):.*?rank\s*: (\d+).*?exitcode\s*: (-?\d+)", re.S
)
_CHILD_REPORT_BYTES = 16 * 1024
_SIGNAL_CAUSES: dict[int, tuple[Cause, float]] = {-9: ("host_oom", 0.8), -7: ("shm_exhausted", 0.6)}
_RETRY = re.compile(rb"Retrying in |\[Retry \d+/\d+\]|[Rr]etrying (?:with|in|after|download)")
_RETRY_WINDOW = 2048
_COMPLETE = (b"Training is Complete", b"'train_runtime'", b'"train_runtime"')
_PROGRESS = re.compile(rb"\| ?(\d+)/(\d+) \[|['\"]step['\"]: '?(\d+)")
_PROGRESS_WINDOW = 256 * 1024
# The Rich console (Oumi's CLI) wraps at 80 columns and leaves a space where it cut.
_CONSOLE_WIDTH = 80
_CONTINUATION_FROM = 70
# A source line shown in a traceback frame, not a message: "    raise ValueError(...)".
_CODE_LINE = re.compile(
    r"(?:^|\] )\s{3,}(?:raise\b|except\b|return\b|assert\b|if\b|elif\b|print\(|logger\.|"
    r"logging\.|warnings\.warn|error_message\b|message\b|msg\b|f?[\"'])"
)
_NEW_RECORD = re.compile(r"^(?:\s*File \"|\[|Traceback|During handling|The above exception|\s*$)")


@dataclass(frozen=True)
class Finding:
    cause: Cause
    confidence: float
    consequence: bool
    text: str  # the line without its launcher prefix
    line: int | None
    source: str
    rank: str | None
    order: tuple[int, int]  # (segment, byte offset): reading order
    continuation: tuple[str, ...] = ()  # the rest of a line the console wrapped
    recovered: bool = False
    generic: bool = False  # a plain Python exception, no rule named it


@dataclass(frozen=True)
class _Progress:
    offset: int
    done: int
    total: int | None
    rank: str | None


def scan(segments: Sequence[Segment]) -> list[Finding]:
    """Every finding of the segments (one log's head and tail, or several logs), in reading
    order, recovered ones marked."""
    findings: list[Finding] = []
    for index, segment in enumerate(segments):
        findings += _scan_segment(index, segment)
    if not findings:
        return findings
    return _mark_recovered(findings, tuple(segments))


def classify(text: str, after_traceback: bool) -> tuple[Cause, float, bool, bool] | None:
    """(cause, confidence, consequence, generic) of one line without prefixes, or None."""
    if _not_a_cause(text) or _CODE_LINE.match(text):
        return None
    for rule in RULES:  # runs for every line an anchor found: kept to plain checks
        if rule.needle in text and (rule.pattern is None or rule.pattern.search(text)):
            if rule.cause is None:
                return None
            return rule.cause, rule.confidence, rule.consequence, False
    if after_traceback and GENERIC_EXCEPTION.search(text):
        return "python_error", GENERIC_CONFIDENCE, False, True
    return None


def _not_a_cause(text: str) -> bool:
    """A warning or an INFO record: substring checks, as this runs for every line looked at."""
    if any(part in text for part in _NOT_A_CAUSE_PARTS):
        return True
    if "Warning" in text and _WARNING_CLASS.search(text):
        return True
    return text[:2] in ("[W", "W0", "W1") and bool(_GLOG_WARNING.match(text))


def _scan_segment(index: int, segment: Segment) -> list[Finding]:
    data = segment.data
    found: list[Finding] = []
    traceback_ranks: set[str | None] = set()
    line_number = segment.first_line
    counted_to = 0
    skip_until = -1
    for start, end in _hit_lines(data):
        if line_number is not None:
            line_number += data.count(b"\n", counted_to, start)
            counted_to = start
        if start < skip_until:
            continue
        raw = data[start:end].decode("utf-8", errors="replace")
        rank, text = split_rank(raw)
        if _TRACEBACK in text:
            traceback_ranks.add(rank)
            continue
        if _CHILD_FAILED in text:
            skip_until, root = _child_failure(data, end)
            if root is not None:
                cause, confidence, root_text, root_offset = root
                root_line = None
                if line_number is not None:
                    root_line = line_number + data.count(b"\n", start, root_offset)
                found.append(
                    Finding(
                        cause,
                        confidence,
                        False,
                        root_text,
                        root_line,
                        segment.source,
                        rank,
                        (index, root_offset),
                    )
                )
            continue
        after_traceback = rank in traceback_ranks or (rank is None and bool(traceback_ranks))
        verdict = classify(text, after_traceback)
        if verdict is None:
            continue
        cause, confidence, consequence, generic = verdict
        found.append(
            Finding(
                cause,
                confidence,
                consequence,
                text.strip(),
                line_number,
                segment.source,
                rank,
                (index, start),
                _continuation(data, end, text),
                generic=generic,
            )
        )
    return found


def _hit_lines(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every line holding an anchor, in order, each once."""
    spans: dict[int, int] = {}
    for anchor in ANCHORS:
        position = data.find(anchor)
        while position >= 0:
            start, end = _line_around(data, position)
            spans.setdefault(start, end)
            position = data.find(anchor, max(end, position + 1))
    return sorted(spans.items())


def _line_around(data: bytes, position: int) -> tuple[int, int]:
    """The line (or the carriage-return piece of a redrawn progress bar) at ``position``.
    Every search stays within the line: a log without any carriage return must not be
    scanned to its ends for one at each hit."""
    start = data.rfind(b"\n", 0, position) + 1
    end = data.find(b"\n", position)
    end = len(data) if end < 0 else end
    start = data.rfind(b"\r", start, position) + 1 or start
    carriage = data.find(b"\r", position, end)
    end = carriage if carriage >= 0 else end
    if end - start > MAX_LINE_BYTES:
        start = max(start, position - MAX_LINE_BYTES // 2)
        end = min(end, position + MAX_LINE_BYTES // 2)
    return start, end


def _child_failure(data: bytes, end: int) -> tuple[int, tuple[Cause, float, str, int] | None]:
    """Where torchrun's failure report ends, and the cause its root failure's signal names."""
    report = data[end : end + _CHILD_REPORT_BYTES]
    closing = report.find(b"\n=====", report.find(b"Root Cause"))
    report_end = end + (closing + 6 if closing >= 0 else len(report))
    root = _ROOT_CAUSE.search(report)
    if root is None:
        return report_end, None
    signal_cause = _SIGNAL_CAUSES.get(int(root.group(2)))
    if signal_cause is None:
        return report_end, None
    offset = end + root.start(2)
    line_start, line_end = _line_around(data, offset)
    text = data[line_start:line_end].decode("utf-8", errors="replace").strip()
    return report_end, (signal_cause[0], signal_cause[1], text, line_start)


def _continuation(data: bytes, end: int, text: str) -> tuple[str, ...]:
    wrapped = text.endswith(" ") or _CONTINUATION_FROM <= len(text) <= _CONSOLE_WIDTH
    if not wrapped or len(text) > _CONSOLE_WIDTH or end >= len(data):
        return ()
    next_end = data.find(b"\n", end + 1)
    following = data[end + 1 : next_end if next_end >= 0 else len(data)][:MAX_LINE_BYTES]
    line = split_rank(following.decode("utf-8", errors="replace"))[1]
    return () if _NEW_RECORD.match(line) else (line.strip(),)


def _mark_recovered(findings: list[Finding], segments: tuple[Segment, ...]) -> list[Finding]:
    completed_at = [max(segment.data.rfind(marker) for marker in _COMPLETE) for segment in segments]
    last_progress = [_last_progress(segment.data) for segment in segments]
    marked = []
    for finding in findings:
        if _recovered(finding, segments, completed_at, last_progress):
            finding = replace(finding, recovered=True)
        marked.append(finding)
    return marked


def _recovered(
    finding: Finding,
    segments: tuple[Segment, ...],
    completed_at: list[int],
    last_progress: list[_Progress | None],
) -> bool:
    index, offset = finding.order
    data = segments[index].data
    line_end = data.find(b"\n", offset)
    if line_end >= 0 and _RETRY.search(data, line_end, line_end + _RETRY_WINDOW):
        return True
    if completed_at[index] > offset or any(at >= 0 for at in completed_at[index + 1 :]):
        return True
    later = [
        (position, progress)
        for position, progress in enumerate(last_progress)
        if progress is not None and (position > index or progress.offset > offset)
    ]
    if not later:
        return False
    after = later[-1][1]
    if finding.rank is not None and after.rank is not None and after.rank != finding.rank:
        return False
    before = _last_progress(data[max(0, offset - _PROGRESS_WINDOW) : offset])
    if before is not None and before.total == after.total:
        return after.done >= before.done + 2
    return after.done >= 2


def _last_progress(data: bytes) -> _Progress | None:
    window_start = max(0, len(data) - _PROGRESS_WINDOW)
    matches = list(_PROGRESS.finditer(data, window_start))
    if not matches:
        return None
    last = matches[-1]
    if last.group(1) is not None:
        done, total = int(last.group(1)), int(last.group(2))
    else:
        done, total = int(last.group(3)), None
    start, end = _line_around(data, last.start())
    rank = split_rank(data[start:end].decode("utf-8", errors="replace"))[0]
    return _Progress(last.start(), done, total, rank)
