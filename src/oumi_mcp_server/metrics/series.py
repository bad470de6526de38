"""Small helpers over a series of (step, value) points."""

from __future__ import annotations

import math
from collections.abc import Sequence

from oumi_mcp_server.metrics.models import Point


def finite(points: Sequence[Point]) -> list[Point]:
    return [(step, value) for step, value in points if math.isfinite(value)]


def ema(values: Sequence[float], span: int) -> list[float]:
    """Exponential moving average (alpha = 2 / (span + 1)), seeded with the first value."""
    alpha = 2.0 / (max(span, 1) + 1.0)
    smoothed: list[float] = []
    level = 0.0
    for index, value in enumerate(values):
        level = value if index == 0 else alpha * value + (1.0 - alpha) * level
        smoothed.append(level)
    return smoothed


def ema_span(count: int) -> int:
    """A span that smooths noise without hiding the trend: ~5% of the points, 1..50."""
    return max(1, min(50, count // 20))


def fmt(value: float) -> str:
    """A metric value for a sentence: 3 significant digits, NaN and inf spelled out."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3g}"
