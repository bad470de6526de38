"""Training metrics: read what a real tiny `oumi train` run writes, summarize it, chart it.

One real run per session (the tiny Llama, 12 steps, logging_steps=1; ~15 s on CPU)
provides the files; the partial, missing, NaN and oversized cases are cut from or
written beside it.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from oumi_mcp_server.metrics.chart import render_chart
from oumi_mcp_server.metrics.service import read_job_metrics
from tests.tiny_project import make_tiny_project

STEPS = 12
OUMI = Path(sys.executable).parent / "oumi"


class TinyRun:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.output_dir = root / "output" / "tiny"
        self.stdout = root / "stdout.log"
        self.stderr = root / "stderr.log"

    def jsonl_records(self) -> list[dict[str, Any]]:
        files = sorted(self.output_dir.glob("metrics_rank*.jsonl"))
        return [json.loads(line) for line in files[0].read_text().splitlines() if line.strip()]

    def loss_points(self) -> list[tuple[int, float]]:
        return [(r["step"], r["loss"]) for r in self.jsonl_records() if "loss" in r]


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path) -> TinyRun:
    """A real `oumi train` of the tiny model, stdout and stderr in separate files (as our
    process backend keeps them)."""
    run = TinyRun(tmp_path_factory.mktemp("tiny-run"))
    config = make_tiny_project(run.root, tiny_model, max_steps=STEPS)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1"}
    with run.stdout.open("wb") as out, run.stderr.open("wb") as err:
        done = subprocess.run(
            [str(OUMI), "train", "-c", str(config)],
            cwd=run.root,
            env=env,
            stdout=out,
            stderr=err,
            timeout=300,
            check=False,
        )
    assert done.returncode == 0, run.stderr.read_text()[-3000:]
    return run


def copy_output(run: TinyRun, target: Path, *, keep: tuple[str, ...]) -> Path:
    """A copy of the run's output dir holding only the files named in ``keep``."""
    target.mkdir(parents=True)
    for name in keep:
        shutil.copy(run.output_dir / name, target / name)
    return target


def write_jsonl(directory: Path, records: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "metrics_rank0000.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path


def decode_png(data: bytes | None) -> Image.Image:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# --- the real run ---------------------------------------------------------------------


@pytest.mark.slow
def test_oumi_writes_the_files_the_reader_expects(tiny_run: TinyRun) -> None:
    written = {path.name for path in tiny_run.output_dir.iterdir()}
    assert {"metrics_rank0000.jsonl", "trainer_state.json"} <= written
    assert "{'loss'" in tiny_run.stdout.read_text()  # the HF progress callback's dicts


@pytest.mark.slow
def test_series_have_one_point_per_logged_step(tiny_run: TinyRun) -> None:
    result = read_job_metrics(tiny_run.output_dir, [tiny_run.stdout, tiny_run.stderr])
    assert result.found
    assert result.source_kind == "metrics_jsonl"
    assert result.source == str(tiny_run.output_dir / "metrics_rank0000.jsonl")
    assert result.series["loss"] == tiny_run.loss_points()
    assert [step for step, _ in result.series["loss"]] == list(range(1, STEPS + 1))
    assert set(result.series) == {"loss", "grad_norm", "learning_rate"}
    assert "train_steps_per_second" in result.available_metrics
    assert not result.truncated


@pytest.mark.slow
def test_summary_matches_the_file(tiny_run: TinyRun) -> None:
    records = tiny_run.jsonl_records()
    losses = [(r["step"], r["loss"]) for r in records if "loss" in r]
    final = next(r for r in records if "train_steps_per_second" in r)
    result = read_job_metrics(tiny_run.output_dir, [tiny_run.stdout, tiny_run.stderr])
    summary = result.summary
    assert summary is not None
    assert summary.points == STEPS
    assert (summary.first_loss, summary.last_loss) == (losses[0][1], losses[-1][1])
    low_step, low = min(losses, key=lambda point: point[1])
    assert (summary.min_loss, summary.min_loss_step) == (low, low_step)
    change = (losses[-1][1] - losses[0][1]) / losses[0][1] * 100
    assert summary.loss_change_pct == pytest.approx(change)
    verb = "fell" if change < 0 else "rose"
    assert f"loss {verb} {abs(change):.0f}% from {losses[0][1]:.3g} to {losses[-1][1]:.3g}" in (
        result.note
    )
    assert summary.steps_per_second == final["train_steps_per_second"]
    assert summary.max_steps == STEPS  # from the progress bar: the caller gave none
    assert (summary.progress, summary.eta_s) == (1.0, 0.0)
    tokens = [r["num_tokens"] for r in records if "num_tokens" in r]
    per_step = (tokens[-1] - tokens[0]) / (STEPS - 1)
    assert summary.tokens_per_second == pytest.approx(per_step * final["train_steps_per_second"])


@pytest.mark.slow
def test_the_chart_is_a_png_of_the_expected_size(tiny_run: TinyRun) -> None:
    result = read_job_metrics(tiny_run.output_dir, title="job-1 · tiny-llama")
    image = decode_png(result.png)
    assert image.format == "PNG"
    assert image.size == (900, 500)
    colors = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colors is not None and len(colors) > 50  # lines, text and axes, not a blank page


@pytest.mark.slow
def test_trainer_state_is_read_when_there_is_no_jsonl(tiny_run: TinyRun, tmp_path: Path) -> None:
    output = copy_output(tiny_run, tmp_path / "out", keep=("trainer_state.json",))
    result = read_job_metrics(output)
    assert result.source_kind == "trainer_state"
    assert result.series["loss"] == tiny_run.loss_points()
    assert result.summary is not None and result.summary.max_steps == STEPS  # stated in the file


@pytest.mark.slow
def test_a_truncated_trainer_state_gives_a_partial_curve(tiny_run: TinyRun, tmp_path: Path) -> None:
    text = (tiny_run.output_dir / "trainer_state.json").read_text()
    output = tmp_path / "out"
    output.mkdir()
    cut = text.index('"step": 6') + len('"step": 6')  # mid-file, inside log_history
    (output / "trainer_state.json").write_text(text[:cut])
    result = read_job_metrics(output)
    assert result.source_kind == "trainer_state"
    assert result.series["loss"] == tiny_run.loss_points()[:5]  # the 6th record is cut open


@pytest.mark.slow
def test_log_lines_of_the_first_steps_give_a_partial_curve(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    lines = tiny_run.stdout.read_text().splitlines(keepends=True)
    with_dicts = [index for index, line in enumerate(lines) if "{'loss'" in line]
    log = tmp_path / "stdout.log"
    log.write_text("".join(lines[: with_dicts[6] + 1]))  # as if still training: 7 steps
    result = read_job_metrics(tmp_path / "no-output-yet", [log])
    assert result.source_kind == "log"
    expected = tiny_run.loss_points()
    loss = result.series["loss"]
    assert [step for step, _ in loss] == list(range(1, 8))
    for (step, value), (_, exact) in zip(loss, expected, strict=False):
        assert value == pytest.approx(exact, rel=1e-3), step  # the log rounds to 4 digits
    assert "rounded" in result.note


@pytest.mark.slow
def test_the_newest_checkpoint_and_the_further_source_win(
    tiny_run: TinyRun, tmp_path: Path
) -> None:
    state = json.loads((tiny_run.output_dir / "trainer_state.json").read_text())
    output = tmp_path / "out"
    for step, stamp in ((4, 1_000), (8, 2_000)):
        partial = {**state, "log_history": state["log_history"][:step], "global_step": step}
        path = output / f"checkpoint-{step}" / "trainer_state.json"
        path.parent.mkdir(parents=True)
        path.write_text(json.dumps(partial))
        os.utime(path, (stamp, stamp))
    result = read_job_metrics(output)
    assert result.source == str(output / "checkpoint-8" / "trainer_state.json")
    assert result.series["loss"] == tiny_run.loss_points()[:8]
    # The live log reaches step 12: it beats the step-8 checkpoint.
    result = read_job_metrics(output, [tiny_run.stdout])
    assert result.source_kind == "log"
    assert result.series["loss"][-1][0] == STEPS


# --- missing, NaN, big, odd ------------------------------------------------------------


def test_no_metrics_says_where_it_looked(tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.mkdir()
    (output / "metrics_rank0000.jsonl").write_text("")
    log = tmp_path / "stdout.log"
    log.write_text("Loading model...\n")
    result = read_job_metrics(output, [log, tmp_path / "stderr.log"])
    assert not result.found
    assert result.series == {} and result.summary is None and result.png is None
    for place in (
        output / "metrics_rank0000.jsonl",
        output / "trainer_state.json",
        output / "checkpoint-*" / "trainer_state.json",
        log,
        tmp_path / "stderr.log",
    ):
        assert str(place) in result.note
    assert f"{output / 'metrics_rank0000.jsonl'} (no metric records)" in result.note
    assert f"{tmp_path / 'stderr.log'} (not found)" in result.note
    assert [check.exists for check in result.sources_checked] == [True, False, False, True, False]


def test_nan_loss_is_called_out(tmp_path: Path) -> None:
    records = [
        {"loss": 3.0 - step / 100 if step < 120 else float("nan"), "step": step}
        for step in range(1, 151)
    ]
    write_jsonl(tmp_path, records)
    result = read_job_metrics(tmp_path)
    assert result.summary is not None
    assert result.summary.nan_since_step == 120
    assert result.summary.trend == "nan"
    assert result.summary.non_finite_points == 31
    assert "loss is NaN since step 120" in result.note
    assert math.isnan(result.series["loss"][-1][1])
    assert result.summary.last_loss == pytest.approx(3.0 - 119 / 100)  # last finite value
    assert decode_png(result.png).size == (900, 500)


def test_a_big_file_is_read_from_its_tail_only(tmp_path: Path) -> None:
    line = {"loss": 1.0, "grad_norm": 0.5, "learning_rate": 1e-4, "epoch": 0.0, "step": 0}
    steps = 90_000  # ~9.3 MB: over the default 8 MB
    with (tmp_path / "metrics_rank0000.jsonl").open("w") as out:
        for step in range(1, steps + 1):
            out.write(json.dumps({**line, "loss": 5.0 / math.sqrt(step), "step": step}) + "\n")
    size = (tmp_path / "metrics_rank0000.jsonl").stat().st_size
    assert size > 8 * 1024 * 1024
    started = time.perf_counter()
    result = read_job_metrics(tmp_path, last_n=100, chart=False)
    elapsed = time.perf_counter() - started
    source = result.sources_checked[0]
    assert result.truncated and source.truncated
    assert source.size_bytes == size
    assert source.bytes_read <= 8 * 1024 * 1024
    loss = result.series["loss"]
    assert len(loss) == 100 and loss[-1] == (steps, 5.0 / math.sqrt(steps))
    assert result.summary is not None and result.summary.first_step is not None
    assert 1 < result.summary.first_step < steps  # the head was not read
    assert "only the last 8.0 MB" in result.note
    assert source.skipped_lines == 0  # the cut lands on a line boundary
    assert elapsed < 10, elapsed
    # A smaller limit reads less.
    small = read_job_metrics(tmp_path, chart=False, max_bytes=100_000)
    assert small.sources_checked[0].bytes_read <= 100_000
    assert small.summary is not None and small.summary.points < 1_000


def test_flat_and_falling_curves_are_named(tmp_path: Path) -> None:
    flat = [{"loss": max(1.0, 3.0 - step / 30), "step": step} for step in range(1, 101)]
    write_jsonl(tmp_path / "flat", flat)
    summary = read_job_metrics(tmp_path / "flat", chart=False).summary
    assert summary is not None and summary.trend == "flat"
    percent = int(summary.note.split("flat for the last ")[1].split("%")[0])
    assert 30 <= percent <= 40  # flat from step 60 of 100 (the EMA lags a few steps)
    falling = [{"loss": 3.0 * 0.99**step, "step": step} for step in range(1, 101)]
    write_jsonl(tmp_path / "falling", falling)
    summary = read_job_metrics(tmp_path / "falling", chart=False).summary
    assert summary is not None and summary.trend == "falling"
    assert "still falling" in summary.note
    assert f"loss fell 63% from {3.0 * 0.99:.3g} to {3.0 * 0.99**100:.3g}" in summary.note


def test_a_resumed_run_keeps_the_later_values(tmp_path: Path) -> None:
    first = [{"loss": 2.0, "step": step} for step in range(1, 7)]
    resumed = [{"loss": 1.0, "step": step} for step in range(4, 9)]
    write_jsonl(tmp_path, first + resumed)
    result = read_job_metrics(tmp_path, chart=False)
    assert result.series["loss"] == [(1, 2.0), (2, 2.0), (3, 2.0)] + [(s, 1.0) for s in range(4, 9)]
    assert "resumed run" in result.note


def test_selection_window_eta_and_a_line_being_written(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path, [{"loss": 2.0 - step / 100, "step": step} for step in range(1, 51)]
    )
    with path.open("a") as out:
        out.write('{"loss": 1.4, "st')  # the trainer is writing this line right now
    stderr = tmp_path / "stderr.log"
    stderr.write_text(" 25%|██▌       | 50/200 [00:10<00:30,  5.00it/s]\r")
    result = read_job_metrics(tmp_path, [stderr], metrics=["loss", "nope"], last_n=3, chart=False)
    assert result.series == {"loss": [(48, 1.52), (49, 1.51), (50, 1.5)]}
    assert "not logged: nope" in result.note
    assert result.sources_checked[0].skipped_lines == 1
    summary = result.summary
    assert summary is not None
    assert (summary.steps_per_second, summary.max_steps) == (5.0, 200)
    assert summary.eta_s == pytest.approx(30.0)
    assert summary.progress == pytest.approx(0.25)
    # Without a progress bar: steps over the caller's elapsed time (start-up included).
    result = read_job_metrics(tmp_path, max_steps=100, elapsed_s=25.0, chart=False)
    assert result.summary is not None
    assert result.summary.steps_per_second == pytest.approx(2.0)
    assert result.summary.eta_s == pytest.approx(25.0)


def test_old_style_log_lines_without_steps_are_numbered(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    log.write_text(
        "".join(
            f"{{'loss': {2.0 - i / 10}, 'learning_rate': 0.001, 'epoch': {i / 10}}}\n"
            for i in range(5)
        )
        + "{'loss': nan, 'learning_rate': 0.001, 'epoch': 0.5}\n"
        + "{'model_name': 'x', 'trust_remote_code': False}\n"  # not a metrics dict
    )
    result = read_job_metrics(None, [log], chart=False)
    assert [step for step, _ in result.series["loss"]] == [1, 2, 3, 4, 5, 6]
    assert math.isnan(result.series["loss"][-1][1])
    assert "numbered in order" in result.note
    assert result.summary is not None and result.summary.nan_since_step == 6


def test_a_chart_does_not_depend_on_the_one_before(tmp_path: Path) -> None:
    """Figures are reused per layout: nothing of one chart may leak into the next."""
    curve = {"loss": [(step, 1.0 / step) for step in range(1, 30)], "lr": [(1, 1e-3), (2, 5e-4)]}
    other = {"loss": [(1, float("nan")), (5, float("nan"))], "lr": []}
    first = render_chart(curve, "a")
    render_chart(other, "b")
    render_chart({"x": [(step, step**2) for step in range(5000)]}, "c")
    assert render_chart(curve, "a") == first
    assert decode_png(render_chart(other, "b")).size == (900, 500)


def test_importing_the_service_imports_no_matplotlib() -> None:
    code = (
        "import sys, oumi_mcp_server.metrics.service\n"
        "print(sorted(m for m in ('matplotlib', 'PIL', 'oumi', 'mcp') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
