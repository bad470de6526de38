"""A PNG line chart of a few metrics: one panel per metric, raw points and an EMA line.

Sync and CPU-bound: call it in a worker thread. matplotlib is imported on the
first call (about 0.5-0.8 s) and only through
its object API (``Figure`` + the Agg canvas), never pyplot, so no global figure
registry holds on to anything.

Speed: a fresh figure spends most of its time creating tick and text artists,
so one figure per layout (1 to 4 panels) is built once and reused: each chart
only sets the data, titles and limits, under that figure's lock. Rendering the
same series twice gives the same bytes, whatever was drawn in between (a test
holds it to that). Margins are fixed rather than computed by ``tight_layout``
(~60 ms a chart), and panel titles have a fixed position (skips matplotlib's
overlap search).
"""

from __future__ import annotations

import io
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oumi_mcp_server.metrics.models import Point
from oumi_mcp_server.metrics.series import ema, ema_span, finite, fmt

MAX_PANELS = 4
MAX_DRAWN_POINTS = 2000  # longer series are thinned by stride (the last point kept)
MARKER_POINTS = 300  # up to this many raw points are drawn as dots, more as a thin line
WIDTH_PX, HEIGHT_PX, DPI = 900, 500, 100
_LAYOUTS = {1: (1, 1), 2: (1, 2), 3: (1, 3), 4: (2, 2)}
_RAW_COLOR, _EMA_COLOR, _NAN_COLOR = "#e08a3c", "#1f4e8c", "#c0392b"


def render_chart(series: Mapping[str, Sequence[Point]], title: str) -> bytes:
    """PNG bytes (900x500) of the first MAX_PANELS series, in the order given."""
    names = list(series)[:MAX_PANELS]
    chart = _chart(max(len(names), 1))
    with chart.lock:
        for panel, name in zip(chart.panels, names, strict=False):
            panel.show(name, series[name])
        if not names:
            chart.panels[0].show("no metrics", [])
        chart.title.set_text(_shorten(title, 110))
        return chart.png()


class _Panel:
    """One axes and the artists it reuses from chart to chart."""

    def __init__(self, ax: Any, locator: Any) -> None:
        self.ax = ax
        ax.xaxis.set_major_locator(locator(5, integer=True))
        ax.yaxis.set_major_locator(locator(5))
        ax.set_xlabel("step", fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(True, alpha=0.3, linewidth=0.6)
        (self.ema,) = ax.plot([], [], "-", color=_EMA_COLOR, linewidth=1.6, zorder=2)
        (self.raw,) = ax.plot([], [], color=_RAW_COLOR, alpha=0.6, zorder=3)
        self.nan_line = ax.axvline(0, color=_NAN_COLOR, linestyle="--", linewidth=1.0)
        self.nan_text = ax.text(
            0,
            0.95,
            "",
            color=_NAN_COLOR,
            fontsize=8,
            ha="right",
            va="top",
            transform=ax.get_xaxis_transform(),
        )
        self.empty = ax.text(
            0.5, 0.5, "no finite values", ha="center", va="center", transform=ax.transAxes
        )

    def show(self, name: str, points: Sequence[Point]) -> None:
        ax = self.ax
        ax.set_visible(True)
        ax.set_autoscale_on(True)  # a previous chart may have fixed the limits
        last = f" (last {fmt(points[-1][1])})" if points else ""
        ax.set_title(f"{name}{last}", fontsize=10, y=1.0, pad=4)  # fixed y: no overlap search
        values = finite(points)
        steps = [step for step, _ in values]
        raw = [value for _, value in values]
        self.raw.set_data(_thin(steps), _thin(raw))
        if len(self.raw.get_xdata()) <= MARKER_POINTS:
            self.raw.set(linestyle="none", marker=".", markersize=5)
        else:
            self.raw.set(linestyle="-", marker="", linewidth=0.6)
        self.ema.set_data(_thin(steps), _thin(ema(raw, ema_span(len(raw)))))
        self.empty.set_visible(not values)
        bad = next(((step, value) for step, value in points if not math.isfinite(value)), None)
        self.nan_line.set_visible(bad is not None)
        self.nan_text.set_visible(bad is not None)
        if bad is not None:
            self.nan_line.set_xdata([bad[0], bad[0]])
            self.nan_text.set_x(bad[0])
            self.nan_text.set_text(f"{fmt(bad[1])} from step {bad[0]} ")
        ax.relim(visible_only=True)
        ax.autoscale_view()
        if not values:  # nothing sets the y range (and maybe not the x range): fix both
            steps_seen = [step for step, _ in points] or [0]
            low, high = min(steps_seen), max(steps_seen)
            ax.set_xlim(low - 1, high + 1)
            ax.set_ylim(0, 1)


@dataclass
class _Chart:
    canvas: Any
    panels: list[_Panel]
    title: Any
    lock: threading.Lock

    def png(self) -> bytes:
        from PIL import Image

        self.canvas.draw()
        size = self.canvas.get_width_height()
        image = Image.frombuffer("RGBA", size, self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG", compress_level=3)
        for panel in self.panels:
            panel.ax.set_visible(False)  # the next chart shows the panels it uses
        return out.getvalue()


_charts: dict[int, _Chart] = {}
_charts_lock = threading.Lock()


def _chart(panels: int) -> _Chart:
    with _charts_lock:
        chart = _charts.get(panels)
        if chart is None:
            chart = _charts[panels] = _build(panels)
        return chart


def _build(panels: int) -> _Chart:
    import matplotlib

    matplotlib.use("Agg")  # no GUI backend, ever
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    rows, columns = _LAYOUTS[panels]
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
    canvas = FigureCanvasAgg(figure)
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    figure.subplots_adjust(
        left=0.08 if columns < 3 else 0.07,
        right=0.98,
        bottom=0.11 if rows == 1 else 0.09,
        top=0.86 if rows == 1 else 0.88,
        wspace=0.28,
        hspace=0.45,
    )
    title = figure.suptitle("", fontsize=11)
    return _Chart(canvas, [_Panel(ax, MaxNLocator) for ax in axes], title, threading.Lock())


def _thin(values: Sequence[Any]) -> list[Any]:
    if len(values) <= MAX_DRAWN_POINTS:
        return list(values)
    stride = math.ceil(len(values) / MAX_DRAWN_POINTS)
    thinned = list(values[::stride])
    if (len(values) - 1) % stride:
        thinned.append(values[-1])
    return thinned


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
