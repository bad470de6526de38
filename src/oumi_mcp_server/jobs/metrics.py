"""get_job_metrics's answer: a job's metrics (metrics/), with the job they belong to.

Where a job's metrics can be read depends on where it ran; the service finds the
places (``MetricSources``), the metrics package reads them, and this module turns
the result into the answer: NaN and inf become None (JSON has no NaN), the chart
is said to be attached, and the next step follows the job's state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import BaseModel, Field

from oumi_mcp_server.jobs.models import JobStatusReport
from oumi_mcp_server.metrics.models import JobMetrics, MetricsSummary, SourceCheck, SourceKind

MAX_METRICS = 8  # per call
MAX_METRIC_NAME = 64
ALL_POINTS = 10_000  # last_n=0: every point read, up to this many per series


@dataclass(frozen=True)
class MetricSources:
    """Where to look: the run's output dir on this machine, and log files."""

    output_dir: str | None
    log_paths: list[str] = field(default_factory=list)
    note: str = ""  # said in the answer (e.g. "the output dir is on the cluster")


class JobMetricsReport(BaseModel):
    job_id: str
    state: str
    terminal: bool
    model_name: str = ""
    output_dir: str = ""
    found: bool = Field(description="False when no metrics were found anywhere.")
    series: dict[str, list[tuple[int, float | None]]] = Field(
        default_factory=dict,
        description="Selected metrics: name -> [(step, value)] (None: NaN or inf was logged).",
    )
    available_metrics: list[str] = Field(default_factory=list)
    summary: MetricsSummary | None = None
    note: str = Field(description="What was found (or where it looked), in plain words.")
    source: str | None = Field(default=None, description="The file the series come from.")
    source_kind: SourceKind | None = None
    sources_checked: list[SourceCheck] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="Earliest points were not read.")
    chart: str = Field(description="Whether a PNG chart is attached as image content, or why not.")
    next_step: str


def metrics_report(
    status: JobStatusReport, metrics: JobMetrics, sources: MetricSources, chart_wanted: bool
) -> JobMetricsReport:
    notes = [metrics.note, sources.note]
    return JobMetricsReport(
        job_id=status.job_id,
        state=status.state,
        terminal=status.terminal,
        model_name=status.model_name,
        output_dir=status.output_dir,
        found=metrics.found,
        series={
            name: [(step, value if math.isfinite(value) else None) for step, value in points]
            for name, points in metrics.series.items()
        },
        available_metrics=metrics.available_metrics,
        summary=metrics.summary,
        note="; ".join(note for note in notes if note),
        source=metrics.source,
        source_kind=metrics.source_kind,
        sources_checked=metrics.sources_checked,
        truncated=metrics.truncated,
        chart=_chart_said(metrics, chart_wanted),
        next_step=_next_step(status, metrics),
    )


def _chart_said(metrics: JobMetrics, wanted: bool) -> str:
    if not wanted:
        return "not drawn (chart=false)"
    if metrics.png is not None:
        extra = f" ({metrics.chart_note})" if metrics.chart_note else ""
        return f"attached as a PNG image{extra}: show it to the user"
    return metrics.chart_note or "not drawn: no metrics to plot"


def _next_step(status: JobStatusReport, metrics: JobMetrics) -> str:
    job = f"job_id='{status.job_id}'"
    if not metrics.found:
        if status.terminal:
            return (
                f"The job is {status.state} and logged no metrics; read get_job_logs({job}) "
                "to see what it did."
            )
        return f"Call get_job_metrics({job}) again once the run logs its first steps."
    if not status.terminal:
        return (
            f"A partial curve: the job is {status.state}. Call get_job_metrics({job}) again "
            "later, or subscribe to jobs://" + status.job_id + " to hear when it ends."
        )
    return "The whole run is shown; compare runs by calling get_job_metrics for each job."


def check_metric_names(names: list[str]) -> list[str]:
    """Metric names as asked: stripped, de-duplicated, bounded (raises ValueError)."""
    cleaned = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if len(cleaned) > MAX_METRICS:
        raise ValueError(f"{len(cleaned)} metrics asked; at most {MAX_METRICS} a call.")
    for name in cleaned:
        if len(name) > MAX_METRIC_NAME or not all(c.isalnum() or c in "_./-" for c in name):
            raise ValueError(
                f"{name[:MAX_METRIC_NAME]!r} is not a metric name (letters, digits, _ . / -, "
                f"at most {MAX_METRIC_NAME} characters)."
            )
    return cleaned
