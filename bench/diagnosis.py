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

Then through the real server, in memory (the official client, no subprocess): a process
job whose fake `oumi` prints the failing log to stderr and exits 1; the first
diagnose_job call (the diagnosis made and kept in the run dir), then the median of
--runs cached diagnose_job calls, of get_job_status of the failed job (its cause
attached) and of the MCP ping of the same session (the floor of any call).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import yaml
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from oumi_mcp_server.diagnosis import diagnose_file
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings

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


# A stand-in for `oumi train`: prints the log to stderr, fails as the log says.
FAKE_OUMI = '#!/bin/sh\ncat "$BENCH_FAILING_LOG" >&2\nexit 1\n'


def server_settings(scratch: Path) -> Settings:
    oumi = scratch / "bin" / "oumi"
    oumi.parent.mkdir()
    oumi.write_text(FAKE_OUMI)
    oumi.chmod(0o755)
    library = scratch / "library"  # an empty config library: nothing is fetched
    library.mkdir()
    return Settings(
        log_level="WARNING",
        configs_dir=library,
        state_dir=scratch / "state",
        cache_dir=scratch / "cache",
        warmup=False,
        docs_autobuild=False,
        listed_clouds=(),
        skypilot_dir=scratch / "home" / ".sky",
        oumi_executable=oumi,
    )


def bench_project(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    line = (
        '{"messages": [{"role": "user", "content": "hi"}, '
        '{"role": "assistant", "content": "hello"}]}'
    )
    (root / "data" / "train.jsonl").write_text((line + "\n") * 3)
    config = {
        "model": {"model_name": "HuggingFaceTB/SmolLM2-135M-Instruct"},
        "data": {
            "train": {
                "datasets": [{"dataset_name": "text_sft_jsonl", "dataset_path": "data/train.jsonl"}]
            }
        },
        "training": {
            "trainer_type": "TRL_SFT",
            "per_device_train_batch_size": 8,
            "output_dir": "output/run",
        },
    }
    (root / "train.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


async def median_call_ms(call: Callable[[], Awaitable[Any]], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def through_the_server(scratch: Path, failing: Path, runs: int) -> None:
    project = bench_project(scratch / "project")
    # legacy mode: the ping (the floor of any call) exists only before protocol 2026-07-28
    warnings.filterwarnings("ignore", message="ping is removed")
    async with Client(build_server(server_settings(scratch)), mode="legacy") as client:
        launched = await client.call_tool(
            "run_oumi_job",
            {
                "config_path": "train.yaml",
                "command": "train",
                "client_cwd": str(project),
                "dry_run": False,
                "envs": {"BENCH_FAILING_LOG": str(failing)},
            },
        )
        assert not launched.is_error, launched.content
        job_id = str((launched.structured_content or {})["job_id"])
        with anyio.fail_after(120):
            while True:
                listed = (await client.call_tool("list_jobs", {})).structured_content or {}
                row = next(row for row in listed["jobs"] if row["job_id"] == job_id)
                if row["state"] == "failed":
                    break
                await anyio.sleep(0.1)

        async def diagnose() -> dict[str, Any]:
            result = await client.call_tool("diagnose_job", {"job_id": job_id})
            assert not result.is_error, result.content
            return result.structured_content or {}

        started = time.perf_counter()
        first = await diagnose()
        made = (time.perf_counter() - started) * 1000
        size = failing.stat().st_size / 1e6
        print(f"through the server (in memory), job {job_id}, {size:.1f} MB of stderr:")
        print(f"  diagnose_job, first call (made and kept)  {made:7.1f} ms -> {first['cause']}")
        assert (await diagnose())["cached"]
        cached = await median_call_ms(diagnose, runs)
        status = await median_call_ms(
            lambda: client.call_tool("get_job_status", {"job_id": job_id}), runs
        )
        ping = await median_call_ms(client.send_ping, runs)
        print(f"  diagnose_job, cached                      {cached:7.2f} ms (median of {runs})")
        print(f"  get_job_status of the failed job (cause)  {status:7.2f} ms (median of {runs})")
        print(f"  MCP ping (the floor of any call)          {ping:7.2f} ms (median of {runs})")


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
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        anyio.run(through_the_server, Path(scratch), failing, args.runs)


if __name__ == "__main__":
    main()
