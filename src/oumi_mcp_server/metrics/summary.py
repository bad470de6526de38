"""The loss curve in numbers and in one plain sentence; speed and ETA when knowable."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from oumi_mcp_server.metrics.models import MetricsSummary, Point, Trend
from oumi_mcp_server.metrics.parsing import Progress
from oumi_mcp_server.metrics.series import ema, ema_span, finite, fmt

MIN_TREND_POINTS = 5
FLAT_BAND = 0.01  # the smoothed loss stays within +/-1% of its level: flat
MIN_FLAT_FRACTION = 0.2  # ... over at least the last 20% of the steps
TAIL_FRACTION = 0.25  # "still falling" / "rising" is judged on the last quarter


def loss_metric(series: Mapping[str, Sequence[Point]]) -> str | None:
    """'loss' when logged, else the longest other '*loss' curve (eval_loss, ...)."""
    if series.get("loss"):
        return "loss"
    curves = [name for name, points in series.items() if name.endswith("loss") and len(points) > 1]
    return max(curves, key=lambda name: len(series[name]), default=None)


def summarize(
    series: Mapping[str, Sequence[Point]],
    *,
    max_steps: int | None = None,
    elapsed_s: float | None = None,
    progress: Progress | None = None,
) -> MetricsSummary:
    name = loss_metric(series)
    points = list(series.get(name, ())) if name else []
    last_step = _last_step(series, points)
    if max_steps is None and progress is not None:
        max_steps = progress.total
    rate, rate_source = _steps_per_second(series, last_step, elapsed_s, progress)
    summary = MetricsSummary(
        loss_metric=name,
        points=len(points),
        first_step=points[0][0] if points else None,
        last_step=last_step,
        steps_per_second=rate,
        steps_per_second_source=rate_source,
        tokens_per_second=_tokens_per_second(series, rate),
        max_steps=max_steps,
    )
    if max_steps and last_step is not None:
        summary.progress = min(1.0, last_step / max_steps)
        if "train_runtime" in series or last_step >= max_steps:
            summary.eta_s = 0.0
        elif rate:
            summary.eta_s = (max_steps - last_step) / rate
    _describe_loss(summary, points)
    return summary


def _last_step(series: Mapping[str, Sequence[Point]], loss: Sequence[Point]) -> int | None:
    if loss:
        return loss[-1][0]
    return max((points[-1][0] for points in series.values() if points), default=None)


def _last(series: Mapping[str, Sequence[Point]], name: str) -> float | None:
    values = finite(series.get(name, ()))
    return values[-1][1] if values else None


def _steps_per_second(
    series: Mapping[str, Sequence[Point]],
    last_step: int | None,
    elapsed_s: float | None,
    progress: Progress | None,
) -> tuple[float | None, str]:
    logged = _last(series, "train_steps_per_second")
    if logged:
        return logged, "logged by the trainer (train_steps_per_second)"
    if progress is not None:
        return progress.steps_per_second, "the trainer's progress bar in the log"
    if last_step and elapsed_s and elapsed_s > 0:
        return last_step / elapsed_s, "steps / time since launch (includes start-up)"
    return None, ""


def _tokens_per_second(series: Mapping[str, Sequence[Point]], rate: float | None) -> float | None:
    for name in series:
        if name.endswith("tokens_per_second"):
            logged = _last(series, name)
            if logged is not None:
                return logged
    tokens = finite(series.get("num_tokens", ()))  # cumulative tokens seen (TRL)
    if rate is None or not tokens:
        return None
    (first_step, first), (last_step, last) = tokens[0], tokens[-1]
    if last_step > first_step:
        return (last - first) / (last_step - first_step) * rate
    return last / last_step * rate if last_step > 0 else None


def _describe_loss(summary: MetricsSummary, points: Sequence[Point]) -> None:
    name = summary.loss_metric
    if name is None:
        summary.note = "no loss logged yet"
        return
    values = finite(points)
    summary.non_finite_points = len(points) - len(values)
    sentences: list[str] = []
    nan_since = _non_finite_since(points)
    if nan_since is not None:
        summary.nan_since_step = nan_since[0]
        sentences.append(f"{name} is {fmt(nan_since[1])} since step {nan_since[0]}")
    elif summary.non_finite_points:
        last_bad = next(step for step, value in reversed(points) if not math.isfinite(value))
        sentences.append(
            f"{name} was NaN/inf at {summary.non_finite_points} step(s), last at step {last_bad}"
        )
    if values:
        first, last = values[0][1], values[-1][1]
        low_step, low = min(values, key=lambda point: point[1])
        summary.first_loss, summary.last_loss = first, last
        summary.min_loss, summary.min_loss_step = low, low_step
        if first != 0:
            summary.loss_change_pct = (last - first) / abs(first) * 100
        sentences.append(_change(name, first, last, values[0][0], values[-1][0]))
        if last > low and low_step != values[-1][0] and (last - low) > 0.05 * abs(low):
            sentences.append(f"lowest was {fmt(low)} at step {low_step}")
    trend, words = _trend(values)
    summary.trend = "nan" if nan_since is not None else trend
    if nan_since is None and words:
        sentences.append(words)
    summary.note = "; ".join(sentences)


def _non_finite_since(points: Sequence[Point]) -> tuple[int, float] | None:
    """(first step, value) of the trailing run of NaN/inf losses, if the curve ends in one."""
    start: Point | None = None
    for point in reversed(points):
        if math.isfinite(point[1]):
            break
        start = point
    return start


def _change(name: str, first: float, last: float, first_step: int, last_step: int) -> str:
    span = f"(steps {first_step}-{last_step})"
    if first == 0 or abs(last - first) / abs(first) < 0.005:
        return f"{name} about unchanged at {fmt(last)} {span}"
    verb = "fell" if last < first else "rose"
    percent = abs(last - first) / abs(first) * 100
    return f"{name} {verb} {percent:.0f}% from {fmt(first)} to {fmt(last)} {span}"


def _fitted_change(points: Sequence[Point]) -> float:
    """How much a least-squares line through the points changes over their steps."""
    count = len(points)
    mean_step = sum(step for step, _ in points) / count
    mean_value = sum(value for _, value in points) / count
    spread = sum((step - mean_step) ** 2 for step, _ in points)
    if spread == 0:
        return 0.0
    slope = sum((step - mean_step) * (value - mean_value) for step, value in points) / spread
    return slope * (points[-1][0] - points[0][0])


def _trend(values: Sequence[Point]) -> tuple[Trend, str]:
    if len(values) < MIN_TREND_POINTS:
        return "too_few_points", "too few points to judge the trend"
    steps = [step for step, _ in values]
    smooth = ema([value for _, value in values], ema_span(len(values)))
    level = max(abs(smooth[-1]), 1e-12)
    # Flat: how far back does the smoothed curve stay inside a +/-1% band?
    low = high = smooth[-1]
    start = len(smooth) - 1
    for index in range(len(smooth) - 2, -1, -1):
        low, high = min(low, smooth[index]), max(high, smooth[index])
        if high - low > 2 * FLAT_BAND * level:
            break
        start = index
    total = steps[-1] - steps[0]
    flat_fraction = (steps[-1] - steps[start]) / total if total > 0 else 0.0
    tail = values[start:]
    if (
        flat_fraction >= MIN_FLAT_FRACTION
        and len(tail) >= 3
        and abs(_fitted_change(tail)) <= 2 * FLAT_BAND * level  # the raw points agree
    ):
        return "flat", f"flat for the last {flat_fraction * 100:.0f}% of steps"
    tail_start = min(len(smooth) - 2, int(len(smooth) * (1 - TAIL_FRACTION)))
    change = _fitted_change(values[tail_start:]) / level  # the raw points: no smoothing lag
    tail_steps = steps[-1] - steps[tail_start]
    if change < -FLAT_BAND:
        return "falling", "still falling"
    if change > FLAT_BAND:
        return "rising", f"rising over the last {tail_steps} steps"
    return "leveling_off", "leveling off"
