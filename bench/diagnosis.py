"""Cost of diagnose_file on a 10 MB log: noise, then a failure near its end.

    .venv/bin/python bench/diagnosis.py [--runs 20] [--size-mb 10] [--log FILE --exit-code N]

Without --log it writes, into a temporary directory, a 4-rank torchrun training log of
the given size: Oumi's log records and progress bars with loss records, every 200 steps
lines the scanner has to look at (NCCL INFO, warnings with "memory" and "error" in them),
and at the end rank 3's CUDA out-of-memory traceback followed by the other ranks' NCCL
timeouts and torchrun's ChildFailedError report. Reports the median of --runs calls with
the default budget (16 MB: the whole log is scanned) and with a 2 MB budget (head and
tail only), the same log ending well (exit code 0), and a stress log with those noisy
lines at every step (a third of all lines to look at).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from oumi_mcp_server.diagnosis import diagnose_file

SITE = "/opt/conda/lib/python3.11/site-packages"
STEP_LINES = (
    "[rank{rank}]:[2025-03-02 10:{minute:02d}:{second:02d},118][oumi][rank{rank}][pid:31{rank}0]"
    "[MainThread][INFO]][callbacks.py:88] step {step}: tokens/s 41233.1, mfu 0.412",
    "[rank0]: {pct:3d}%|███       | {step}/90000 [1:02:11<2:18:01,  3.21it/s]"
    "{{'loss': '1.{step:04d}', 'grad_norm': '0.873', 'learning_rate': '1.9e-05', 'step': {step}}}",
)
# Lines an anchor finds ("NCCL", "memory", "error") though they name no cause.
NOISY_LINES = (
    "gpu-node-07:31{rank}0:3290 [{rank}] NCCL INFO Channel 03/0 : {rank}[{rank}] -> 0[0] via P2P",
    "[rank{rank}]:{site}/torch/cuda/memory.py:391: FutureWarning: torch.cuda.reset_max_memory_"
    "allocated now calls torch.cuda.reset_peak_memory_stats, which resets /all/ peak stats.",
    "[rank{rank}]:[2025-03-02 10:{minute:02d}:{second:02d},118][oumi][rank{rank}][pid:31{rank}0]"
    "[MainThread][WARNING]][train.py:201] a long sequence may run out of memory; error rate 0.0",
)
FAILURE = [
    "[rank3]: Traceback (most recent call last):",
    f'[rank3]:   File "{SITE}/transformers/trainer.py", line 2672, in _inner_training_loop',
    "[rank3]:     tr_loss_step = self.training_step(model, inputs, num_items_in_batch)",
    "[rank3]: torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB. GPU 3 has "
    "a total capacity of 79.19 GiB of which 1.62 GiB is free.",
    *(
        f"[rank{rank}]:[E302 10:51:13.715 ProcessGroupNCCL.cpp:632] [Rank {rank}] Watchdog caught "
        "collective operation timeout: WorkNCCL(SeqNum=2217, OpType=ALLREDUCE, NumelIn=1, "
        "NumelOut=1, Timeout(ms)=600000) ran for 600061 milliseconds before timing out."
        for rank in range(3)
    ),
    "torch.distributed.elastic.multiprocessing.errors.ChildFailedError: ",
    "Root Cause (first observed failure):",
    "  rank      : 3 (local_rank: 3)",
    "  exitcode  : 1 (pid: 3130)",
]


def synthetic_log(path: Path, size_mb: float, failing: bool = True, noisy_every: int = 200) -> Path:
    """A training log of ``size_mb``: two lines a step, and every ``noisy_every`` steps the
    lines an anchor finds (NCCL INFO, warnings about memory and errors)."""
    target = int(size_mb * 1024 * 1024)
    written = 0
    step = 0
    with path.open("w") as out:
        while written < target - 4096:
            step += 1
            templates = STEP_LINES + (NOISY_LINES if step % noisy_every == 0 else ())
            for template in templates:
                line = template.format(
                    rank=step % 4,
                    step=step,
                    pct=step * 100 // 90000,
                    site=SITE,
                    minute=step // 60 % 60,
                    second=step % 60,
                )
                out.write(line + "\n")
                written += len(line.encode()) + 1
        tail = FAILURE if failing else ["[rank0]: Training is Complete."]
        out.write("\n".join(tail) + "\n")
    return path


def median_ms(call: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--size-mb", type=float, default=10.0)
    parser.add_argument("--log", type=Path)
    parser.add_argument("--exit-code", type=int, default=1)
    args = parser.parse_args()
    print("command: .venv/bin/python bench/diagnosis.py " + " ".join(sys.argv[1:]))
    with tempfile.TemporaryDirectory() as scratch:
        failing = args.log or synthetic_log(Path(scratch) / "train.log", args.size_mb)
        clean = synthetic_log(Path(scratch) / "clean.log", args.size_mb, failing=False)
        stress = synthetic_log(Path(scratch) / "stress.log", args.size_mb, noisy_every=1)
        started = time.perf_counter()
        found = diagnose_file(failing, exit_code=args.exit_code)
        print(f"first call: {(time.perf_counter() - started) * 1000:.0f} ms")
        line = found.evidence[0].line if found.evidence else None
        size = failing.stat().st_size / 1e6
        print(f"{failing.name}: {size:.1f} MB -> {found.cause} ({found.confidence}), line {line}")
        rows = {
            "diagnose_file (16 MB budget: whole log)": lambda: diagnose_file(
                failing, exit_code=args.exit_code
            ),
            "diagnose_file (2 MB budget: head + tail)": lambda: diagnose_file(
                failing, exit_code=args.exit_code, max_bytes=2 * 1024 * 1024
            ),
            "diagnose_file, clean run (exit 0)": lambda: diagnose_file(clean, exit_code=0),
            "stress: noisy lines at every step": lambda: diagnose_file(stress, exit_code=1),
        }
        for name, call in rows.items():
            print(f"  {name:<42} {median_ms(call, args.runs):7.1f} ms (median of {args.runs})")


if __name__ == "__main__":
    main()
