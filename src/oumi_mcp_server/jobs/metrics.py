"""get_job_metrics: a job's metrics (metrics/), with the job they belong to.

Where a job's metrics can be read depends on where it ran (``metric_sources``: its
output dir on this machine, else its logs as its engine read them); the metrics
package reads them, and this module turns the result into the answer: NaN and inf
become None (JSON has no NaN), the chart is said to be attached, and the next step
follows the job's state. The service asks the engine for the job's state and logs,
then calls ``job_metrics`` in a worker thread.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.backend import LogRead
from oumi_mcp_server.jobs.catalog import MAX_METRICS
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import JobMetricsReport, JobStatusReport
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.metrics.models import JobMetrics
from oumi_mcp_server.metrics.service import read_job_metrics
from oumi_mcp_server.private import open_private

MAX_METRIC_NAME = 64
ALL_POINTS = 10_000  # last_n=0: every point read, up to this many per series
METRICS_LOG_FILE = "metrics_log.txt"  # a cluster job's last log lines, for the reader


@dataclass(frozen=True)
class MetricSources:
    """Where to look: the run's output dir on this machine, and log files."""

    output_dir: str | None
    log_paths: list[str] = field(default_factory=list)
    note: str = ""  # said in the answer (e.g. "the output dir is on the cluster")


def check_metrics_request(metrics: list[str], last_n: int) -> list[str]:
    """The metric names asked, checked (InvalidArgumentError says what is wrong)."""
    try:
        names = check_metric_names(metrics)
    except ValueError as exc:
        raise InvalidArgumentError(
            "metrics", str(exc), next_step="Pass names such as ['loss', 'grad_norm']."
        ) from exc
    if last_n < 0:
        raise InvalidArgumentError(
            "last_n", f"{last_n} is negative.", next_step="0 means every point; N the last N."
        )
    return names


def job_metrics(
    record: JobRecord,
    status: JobStatusReport,
    reads: Sequence[LogRead],
    names: list[str],
    *,
    last_n: int,
    chart: bool,
) -> tuple[JobMetricsReport, bytes | None]:
    """Read, summarize and draw (blocking): ``reads`` are the job's logs as its engine
    read them (none for our own process jobs, whose log files are on this machine)."""
    sources = metric_sources(record, status, reads)
    title = " - ".join(part for part in (status.job_id, status.model_name) if part)
    found = read_job_metrics(
        sources.output_dir,
        sources.log_paths,
        names,
        last_n=last_n or ALL_POINTS,
        elapsed_s=status.duration_s,
        title=title,
        chart=chart,
    )
    return metrics_report(status, found, sources, chart), found.png


def metric_sources(
    record: JobRecord, status: JobStatusReport, reads: Sequence[LogRead]
) -> MetricSources:
    """Where a job's metrics can be read on this machine (blocking: it may save a
    cluster's log lines in the run dir for the reader)."""
    if record.is_process:
        logs = [path for path in (record.stdout_path, record.stderr_path) if path]
        return MetricSources(record.output_dir or None, logs)
    if record.is_pending:
        return MetricSources(None, [], "the job has not started yet")
    logs = _local_log_files(record, reads)
    output = Path(status.output_dir) if status.output_dir else None
    if kind_of(record.cloud).runs_here and output is not None:
        return MetricSources(str(Path(record.client_cwd) / output), logs)
    where = f"the output dir is on {record.cluster_name or record.cloud}; " if output else ""
    return MetricSources(None, logs, f"{where}read from the job's last log lines")


def _local_log_files(record: JobRecord, reads: Sequence[LogRead]) -> list[str]:
    """Log files on this machine: as they are, or (a cluster's) the text just read, saved
    in the run dir for the metrics reader."""
    local = [read.path for read in reads if read.path and Path(read.path).is_file()]
    remote = [read.page.text for read in reads if read.path not in local and read.page.text]
    if remote:
        saved = Path(record.run_dir) / METRICS_LOG_FILE
        descriptor = open_private(saved, os.O_WRONLY | os.O_TRUNC)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write("\n".join(remote))
        local.append(str(saved))
    return local


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
