"""Cost of read_job_metrics: cold (first chart: matplotlib import) and warm, by stage.

    .venv/bin/python bench/metrics.py [--runs 20] [--output-dir DIR --log FILE ...]

Without --output-dir it writes synthetic Oumi metric files (metrics_rank0000.jsonl)
of 12, 2,000 and 90,000 steps (the last ~9 MB, over the 8 MB read limit) into a
temporary directory. Reports the median of --runs warm calls for the reader, the
summary, the chart (1 and 3 panels) and the whole service call.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from oumi_mcp_server.metrics.chart import render_chart
from oumi_mcp_server.metrics.reader import read_metrics
from oumi_mcp_server.metrics.service import read_job_metrics
from oumi_mcp_server.metrics.summary import summarize


def synthetic_run(directory: Path, steps: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "metrics_rank0000.jsonl").open("w") as out:
        for step in range(1, steps + 1):
            record = {
                "loss": 1.0 + 3.0 * math.exp(-step / (steps / 4)) + 0.05 * math.sin(step),
                "grad_norm": 1.0 + 0.3 * math.cos(step / 7),
                "learning_rate": 1e-3 * (1 - step / steps),
                "num_tokens": 52.0 * step,
                "epoch": step / steps,
                "step": step,
            }
            out.write(json.dumps(record) + "\n")
    return directory


def median_ms(call: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def bench(label: str, output_dir: Path, logs: list[Path], runs: int) -> None:
    read = read_metrics(output_dir, logs)
    chosen = {name: read.series[name][-200:] for name in ("loss", "grad_norm", "learning_rate")}
    loss_only = {"loss": chosen["loss"]}
    rows = {
        "reader": median_ms(lambda: read_metrics(output_dir, logs), runs),
        "summary": median_ms(lambda: summarize(read.series, max_steps=None), runs),
        "chart, 1 panel": median_ms(lambda: render_chart(loss_only, "job · model"), runs),
        "chart, 3 panels": median_ms(lambda: render_chart(chosen, "job · model"), runs),
        "read_job_metrics (3 panels)": median_ms(
            lambda: read_job_metrics(output_dir, logs, title="job · model"), runs
        ),
    }
    points = len(read.series.get("loss", []))
    print(
        f"\n{label}: {points} loss points read, source {read.source.kind if read.source else None}"
    )
    for name, value in rows.items():
        print(f"  {name:<30} {value:8.1f} ms (median of {runs})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--output-dir", type=Path)
    parser.add_argument("--log", type=Path, action="append", default=[])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.perf_counter()
        first = synthetic_run(root / "first", 12)
        read_job_metrics(first, title="first call")
        print(
            f"first call (imports matplotlib, builds the figure): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        if args.output_dir:
            bench(str(args.output_dir), args.output_dir, args.log, args.runs)
            return
        for steps in (12, 2_000, 90_000):
            bench(f"{steps} steps", synthetic_run(root / str(steps), steps), [], args.runs)


if __name__ == "__main__":
    main()
