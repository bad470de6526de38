"""Find a run's metrics and turn them into series: metric name -> [(step, value)].

Order of preference: Oumi's ``metrics_rank*.jsonl`` (written live, exact values);
then the newest ``trainer_state.json`` (the run's or a checkpoint's: exact values,
but only as of the last save) or the job's log (live, values rounded by
transformers), whichever reaches the later step. Every place looked at is
reported, found or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from oumi_mcp_server.metrics.files import (
    CHECKPOINT_GLOB,
    MAX_READ_BYTES,
    METRICS_JSONL_GLOB,
    TRAINER_STATE,
    metrics_jsonl_files,
    read_tail,
    trainer_state_files,
)
from oumi_mcp_server.metrics.models import Point, SourceCheck, SourceKind
from oumi_mcp_server.metrics.parsing import (
    STEP_KEYS,
    Parsed,
    Progress,
    Record,
    last_progress,
    parse_jsonl,
    parse_log,
    parse_trainer_state,
)

PROGRESS_TAIL_BYTES = 64 * 1024


@dataclass
class MetricsRead:
    series: dict[str, list[Point]] = field(default_factory=dict)
    source: SourceCheck | None = None
    sources_checked: list[SourceCheck] = field(default_factory=list)
    steps_inferred: bool = False  # records without a step were numbered in order
    restarts: int = 0  # times the step went back (a resumed run); later values kept
    max_steps: int | None = None  # as the source states it
    progress: Progress | None = None  # the trainer's progress bar in the logs

    @property
    def truncated(self) -> bool:
        return self.source is not None and self.source.truncated


@dataclass
class _Candidate:
    check: SourceCheck
    parsed: Parsed


def read_metrics(
    output_dir: Path | None, log_paths: Sequence[Path] = (), max_bytes: int = MAX_READ_BYTES
) -> MetricsRead:
    """Read the best available metrics of a run (sync, bounded: each file <= max_bytes)."""
    result = MetricsRead()
    chosen: _Candidate | None = None
    if output_dir is not None:
        chosen = _first_with_records(_read_jsonl(output_dir, max_bytes, result.sources_checked))
    if chosen is None:
        candidates: list[_Candidate] = []
        if output_dir is not None:
            state = _first_with_records(
                _read_trainer_state(output_dir, max_bytes, result.sources_checked)
            )
            candidates += [state] if state else []
        candidates += _read_logs(log_paths, max_bytes, result.sources_checked)
        chosen = _latest(candidates)
    result.progress = _progress(log_paths)
    if chosen is None:
        return result
    result.source = chosen.check
    result.max_steps = chosen.parsed.max_steps
    result.series, result.steps_inferred, result.restarts = build_series(chosen.parsed.records)
    return result


def build_series(records: Iterable[Record]) -> tuple[dict[str, list[Point]], bool, int]:
    """Series in step order. A record without a step follows the previous one; when the
    step goes back (a run resumed from a checkpoint), the later values replace the earlier."""
    series: dict[str, list[Point]] = {}
    inferred = False
    restarts = 0
    previous = 0
    for record in records:
        step_value = record.get("step", record.get("global_step"))
        if step_value is None or step_value != step_value:  # missing or NaN
            inferred = True
            step = previous + 1
        else:
            step = int(step_value)
        going_back = step <= previous
        if step < previous:
            restarts += 1
        previous = step
        for name, value in record.items():
            if name in STEP_KEYS:
                continue
            points = series.get(name)
            if points is None:
                points = series[name] = []
            elif going_back:  # only then can a point at or after this step exist
                while points and points[-1][0] >= step:
                    points.pop()
            points.append((step, value))
    return series, inferred, restarts


def _read_jsonl(
    output_dir: Path, max_bytes: int, checked: list[SourceCheck]
) -> Iterable[_Candidate]:
    files = metrics_jsonl_files(output_dir)
    if not files:
        checked.append(
            SourceCheck(
                path=str(output_dir / METRICS_JSONL_GLOB), kind="metrics_jsonl", exists=False
            )
        )
    for path in files:
        yield _read(path, "metrics_jsonl", max_bytes, checked)


def _read_trainer_state(
    output_dir: Path, max_bytes: int, checked: list[SourceCheck]
) -> Iterable[_Candidate]:
    files = trainer_state_files(output_dir)
    if not files:
        for pattern in (TRAINER_STATE, f"{CHECKPOINT_GLOB}/{TRAINER_STATE}"):
            checked.append(
                SourceCheck(path=str(output_dir / pattern), kind="trainer_state", exists=False)
            )
    for path in files:
        yield _read(path, "trainer_state", max_bytes, checked)


def _read_logs(
    log_paths: Sequence[Path], max_bytes: int, checked: list[SourceCheck]
) -> list[_Candidate]:
    found = [_read(path, "log", max_bytes, checked) for path in log_paths]
    return [candidate for candidate in found if candidate.parsed.records]


def _read(path: Path, kind: SourceKind, max_bytes: int, checked: list[SourceCheck]) -> _Candidate:
    try:
        tail = read_tail(path, max_bytes)
    except OSError:
        check = SourceCheck(path=str(path), kind=kind, exists=path.exists())
        checked.append(check)
        return _Candidate(check, Parsed())
    if kind == "metrics_jsonl":
        parsed = parse_jsonl(tail.text)
    elif kind == "trainer_state":
        parsed = parse_trainer_state(tail.text, complete=not tail.truncated)
    else:
        parsed = parse_log(tail.text)
    check = SourceCheck(
        path=str(path),
        kind=kind,
        exists=True,
        size_bytes=tail.size,
        bytes_read=tail.bytes_read,
        truncated=tail.truncated,
        records=len(parsed.records),
        last_step=_last_step(parsed.records),
        skipped_lines=parsed.skipped,
    )
    checked.append(check)
    return _Candidate(check, parsed)


def _last_step(records: list[Record]) -> int | None:
    for record in reversed(records):
        step = next((record[key] for key in STEP_KEYS if key in record), None)
        if step is not None and step == step:
            return int(step)
    return None


def _first_with_records(candidates: Iterable[_Candidate]) -> _Candidate | None:
    for candidate in candidates:
        if candidate.parsed.records:
            return candidate
    return None


def _latest(candidates: list[_Candidate]) -> _Candidate | None:
    """The candidate reaching the latest step; on a tie the earlier (more exact) one."""
    best: _Candidate | None = None
    for candidate in candidates:
        if best is None or _reach(candidate) > _reach(best):
            best = candidate
    return best


def _reach(candidate: _Candidate) -> int:
    if candidate.check.last_step is not None:
        return candidate.check.last_step
    return len(candidate.parsed.records)


def _progress(log_paths: Sequence[Path]) -> Progress | None:
    for path in log_paths:
        try:
            progress = last_progress(read_tail(path, PROGRESS_TAIL_BYTES).text)
        except OSError:
            continue
        if progress is not None:
            return progress
    return None
