"""read_job_metrics: a run's metrics, summarized and charted, for the get_job_metrics tool.

Sync and bounded (each file read is at most ``max_bytes``); the caller runs it in
a worker thread. Nothing found is an answer, not an error: it says where it looked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from oumi_mcp_server.metrics.chart import MAX_PANELS, render_chart
from oumi_mcp_server.metrics.files import MAX_READ_BYTES
from oumi_mcp_server.metrics.models import JobMetrics, Point, SourceCheck
from oumi_mcp_server.metrics.reader import MetricsRead, read_metrics
from oumi_mcp_server.metrics.summary import summarize

DEFAULT_METRICS = ("loss", "grad_norm", "learning_rate")
MAX_LAST_N = 10_000
# Logged once at the end of training: not curves.
_END_OF_RUN = frozenset(
    {
        "train_runtime",
        "train_samples_per_second",
        "train_steps_per_second",
        "total_flos",
        "train_loss",
    }
)


def read_job_metrics(
    output_dir: str | Path | None,
    log_paths: Sequence[str | Path] = (),
    metrics: Sequence[str] = (),
    last_n: int = 200,
    max_steps: int | None = None,
    elapsed_s: float | None = None,
    title: str = "",
    *,
    chart: bool = True,
    max_bytes: int = MAX_READ_BYTES,
) -> JobMetrics:
    """Series of the selected ``metrics`` (default: loss, grad_norm, learning_rate), the last
    ``last_n`` points each, a summary of the whole loss curve read, and a PNG chart."""
    read = read_metrics(
        Path(output_dir) if output_dir else None, [Path(p) for p in log_paths], max_bytes
    )
    if not read.series:
        return JobMetrics(
            found=False,
            note=_nothing_found(read.sources_checked),
            sources_checked=read.sources_checked,
        )
    available = list(read.series)
    selected, unknown = _select(read.series, metrics)
    window = max(1, min(last_n, MAX_LAST_N))
    series = {name: read.series[name][-window:] for name in selected}
    summary = summarize(
        read.series,
        max_steps=max_steps or read.max_steps,
        elapsed_s=elapsed_s,
        progress=read.progress,
    )
    notes = [summary.note, *_reading_notes(read, max_bytes)]
    if unknown:
        notes.append(f"not logged: {', '.join(unknown)} (available: {', '.join(available)})")
    png, chart_note = _chart(series, title) if chart and series else (None, "")
    source = read.source
    return JobMetrics(
        found=True,
        series=series,
        available_metrics=available,
        summary=summary,
        note="; ".join(note for note in notes if note),
        source=source.path if source else None,
        source_kind=source.kind if source else None,
        sources_checked=read.sources_checked,
        truncated=read.truncated,
        png=png,
        chart_note=chart_note,
    )


def _select(
    series: Mapping[str, list[Point]], wanted: Sequence[str]
) -> tuple[list[str], list[str]]:
    """(metrics to return, requested metrics that were not logged)."""
    if wanted:
        names = list(dict.fromkeys(wanted))
        return [n for n in names if n in series], [n for n in names if n not in series]
    chosen = [name for name in DEFAULT_METRICS if name in series]
    if not chosen:
        curves = [name for name in series if name not in _END_OF_RUN and name != "epoch"]
        chosen = curves[: MAX_PANELS - 1] or list(series)[:1]
    return chosen, []


def _reading_notes(read: MetricsRead, max_bytes: int) -> list[str]:
    source = read.source
    if source is None:
        return []
    notes = [f"read {source.records} records from {source.path}"]
    if source.truncated:
        notes.append(
            f"only the last {_mb(source.bytes_read)} of {_mb(source.size_bytes)} were read "
            f"(limit {_mb(max_bytes)}): earlier steps are not included"
        )
    if source.kind == "log":
        notes.append("values come from the log, where they are rounded")
    if read.steps_inferred:
        notes.append("some records had no step; they were numbered in order")
    if read.restarts:
        notes.append(f"steps went back {read.restarts} time(s) (resumed run): later values kept")
    return notes


def _nothing_found(checked: Sequence[SourceCheck]) -> str:
    places = [
        f"{check.path} ({'no metric records' if check.exists else 'not found'})"
        for check in checked
    ]
    where = "; ".join(places) if places else "nowhere: no output dir and no log file was given"
    return (
        f"No metrics logged yet. Looked at: {where}. Oumi writes metrics_rank0000.jsonl in the "
        "output dir at each logging step (training.logging_steps), and trainer_state.json when "
        "it saves; a run still loading its model has logged nothing yet."
    )


def _chart(series: Mapping[str, list[Point]], title: str) -> tuple[bytes | None, str]:
    shown = dict(list(series.items())[:MAX_PANELS])
    note = f"chart shows the first {MAX_PANELS} metrics" if len(series) > MAX_PANELS else ""
    try:
        return render_chart(shown, title), note
    except ImportError as error:
        return None, f"no chart: {error.name or 'matplotlib'} is not installed"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
