"""The metrics answer and its parts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel

# (step, value); the value may be NaN or +/-inf when the trainer logged one.
Point = tuple[int, float]
SourceKind = Literal["metrics_jsonl", "trainer_state", "log"]
Trend = Literal["falling", "flat", "rising", "leveling_off", "nan", "too_few_points", "none"]


class SourceCheck(AnswerModel):
    """One place looked at for metrics, and what was found there."""

    path: str = Field(description="File (or glob pattern when nothing matched) looked at.")
    kind: SourceKind
    exists: bool
    size_bytes: int = 0
    bytes_read: int = 0
    truncated: bool = Field(default=False, description="Only the tail of the file was read.")
    records: int = Field(default=0, description="Metric records parsed from it.")
    last_step: int | None = None
    skipped_lines: int = Field(
        default=0, description="Lines that looked like records but did not parse."
    )


class MetricsSummary(AnswerModel):
    loss_metric: str | None = Field(
        description="The series summarized as 'loss' (None: none logged)."
    )
    points: int = Field(description="Logged points of the loss series, NaN included.")
    first_step: int | None = None
    last_step: int | None = None
    first_loss: float | None = None
    last_loss: float | None = None
    min_loss: float | None = None
    min_loss_step: int | None = None
    loss_change_pct: float | None = Field(
        default=None, description="(last - first) / first * 100 over finite values."
    )
    non_finite_points: int = 0
    nan_since_step: int | None = Field(
        default=None, description="Every loss from this step on is NaN or inf."
    )
    trend: Trend = "none"
    steps_per_second: float | None = None
    steps_per_second_source: str = ""
    tokens_per_second: float | None = None
    max_steps: int | None = None
    progress: float | None = Field(default=None, description="last_step / max_steps, 0..1.")
    eta_s: float | None = Field(default=None, description="Seconds left at the current rate.")
    note: str = Field(default="", description="The curve in plain words.")


class JobMetrics(AnswerModel):
    found: bool = Field(description="False when no metrics were found anywhere.")
    series: dict[str, list[Point]] = Field(
        default_factory=dict, description="Selected metrics: name -> [(step, value)], last_n each."
    )
    available_metrics: list[str] = Field(default_factory=list)
    summary: MetricsSummary | None = None
    note: str = Field(description="What was found (or where it looked), in plain words.")
    source: str | None = Field(default=None, description="The file the series come from.")
    source_kind: SourceKind | None = None
    sources_checked: list[SourceCheck] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="Earliest points were not read.")
    png: bytes | None = Field(default=None, description="PNG line chart, or None.")
    chart_note: str = ""
