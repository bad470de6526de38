"""Job control plane latency over stdio, side by side with Oumi 0.9's oumi-mcp.

    .venv/bin/python bench/jobs.py [--runs 30] [--log-gib 1] [--no-competitor]

1. get_job_logs: tail of 200 lines from a 1 GiB stdout log (real bytes, written here).
2. list_jobs with 1,000 registry records (finished jobs with their exit records).
3. run_oumi_job(dry_run=False) return time with the real oumi on the tiny model
   (server warm: oumi already imported for validation; each job is then cancelled).
4. The same tiny training job launched by each server, run to completion, then
   get_job_status / get_job_logs(lines=200) / list_jobs latency for both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Summary, base_env, call, ensure_competitor

from oumi_mcp_server.jobs import logs
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import Registry
from oumi_mcp_server.jobs.rundir import RunDir, write_json_atomically
from tests.jobs_support import fake_oumi
from tests.project import make_project
from tests.tiny_project import build_tiny_model, make_tiny_project

FINISHED_WORDS = ("completed", "succeeded", "failed", "cancelled", "canceled")


def ours(state_dir: Path, **extra: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable, args=["-m", "oumi_mcp_server"], env=base_env(state_dir, **extra)
    )


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - started)
    return samples


def ms(label: str, samples: list[float]) -> float:
    print(Summary(label, samples).line("ms", 1000), flush=True)
    return statistics.median(samples) * 1000


# -- 1. a 1 GiB log -------------------------------------------------------------------------


def write_big_log(path: Path, gib: float) -> int:
    template = "".join(
        f"[2026-11-24 10:{i % 60:02d}:{i % 60:02d}][oumi][rank0][INFO] block BLOCKNUM step {i} "
        f"loss {1.0 / (i + 1):.6f} grad_norm {i % 7}.{i % 97:02d} lr 0.0001\n"
        for i in range(10_000)
    ).encode()
    target = int(gib * 1024**3)
    written = 0
    with path.open("ab") as out:
        block = 0
        while written < target:
            chunk = template.replace(b"BLOCKNUM", f"{block:06d}".encode())
            out.write(chunk)
            written += len(chunk)
            block += 1
    return path.stat().st_size


async def bench_big_log(work: Path, runs: int, gib: float) -> dict[str, float]:
    project = make_project(work / "project")
    fake = str(fake_oumi(work / "bin"))
    parameters = ours(work / "state-logs", OUMI_MCP_OUMI_EXECUTABLE=fake, OUMI_MCP_WARMUP="0")
    async with Client(parameters, mode="legacy", read_timeout_seconds=600) as client:
        job = await call(
            client,
            "run_oumi_job",
            {
                "config_path": "configs/train.yaml",
                "command": "train",
                "client_cwd": str(project),
                "dry_run": False,
            },
        )
        while not (await call(client, "get_job_status", {"job_id": job["job_id"]}))["terminal"]:
            await anyio.sleep(0.2)
        started = time.perf_counter()
        size = write_big_log(Path(job["stdout_path"]), gib)
        print(f"wrote {size / 1024**3:.2f} GiB of log in {time.perf_counter() - started:.1f} s")
        arguments = {"job_id": job["job_id"], "lines": 200, "stream": "stdout"}
        answer = await call(client, "get_job_logs", arguments)
        assert answer["chunks"][0]["lines"] == 200, answer["chunks"][0]["lines"]
        samples = await timed(lambda: client.call_tool("get_job_logs", arguments), runs)
    in_process = []
    for _ in range(runs):
        begin = time.perf_counter()
        logs.tail(Path(job["stdout_path"]), 200)
        in_process.append(time.perf_counter() - begin)
    Path(job["stdout_path"]).unlink()
    return {
        "logs_1gib_tool": ms("get_job_logs tail 200 lines of 1 GiB (MCP round trip)", samples),
        "logs_1gib_read": ms("  of which the tail read itself (in process)", in_process),
    }


# -- 2. 1,000 records -------------------------------------------------------------------------


def fill_registry(state_dir: Path, count: int) -> None:
    registry = Registry(state_dir)
    now = time.time()
    for index in range(count):
        job_id = f"train_20261124_{index:06d}_bench{index % 10}"
        run = RunDir.for_job(state_dir, job_id)
        run.create()
        write_json_atomically(
            run.path / "exit.json",
            {"exit_code": 0 if index % 10 else 1, "started_at": now - 60, "ended_at": now - 30},
        )
        registry.add(
            JobRecord(
                job_id=job_id,
                command="train",
                config_path="/project/configs/train.yaml",
                staged_config_path=str(run.path / "config.yaml"),
                client_cwd="/project",
                run_dir=str(run.path),
                submitted_at=now - 3600 + index,
                pid=100_000 + index,
                process_start_time=now - 60,
                marker=f"oumi_mcp_job={job_id}",
                stdout_path=str(run.stdout),
                stderr_path=str(run.stderr),
                output_dir="/project/output/run",
            )
        )


async def bench_list(work: Path, runs: int) -> dict[str, float]:
    state_dir = work / "state-list"
    fill_registry(state_dir, 1000)
    async with Client(ours(state_dir, OUMI_MCP_WARMUP="0"), mode="legacy") as client:
        started = time.perf_counter()
        first = await call(client, "list_jobs", {})
        cold = time.perf_counter() - started
        assert first["total"] == 1000, first["total"]
        print(
            f"list_jobs, 1,000 records, first call (loads the job modules, reads 1,000 exit "
            f"records): {cold * 1000:.1f} ms",
            flush=True,
        )
        default = await timed(lambda: client.call_tool("list_jobs", {}), runs)
        failed = await timed(lambda: client.call_tool("list_jobs", {"status": "failed"}), runs)
        everything = await timed(lambda: client.call_tool("list_jobs", {"limit": 1000}), runs)
    return {
        "list_1000_first_call": cold * 1000,
        "list_1000_default": ms("list_jobs, 1,000 records (50 shown)", default),
        "list_1000_failed": ms(
            "list_jobs status=failed, 1,000 records (100 match, 50 shown)", failed
        ),
        "list_1000_all": ms("list_jobs limit=1000, 1,000 records (all shown)", everything),
    }


# -- 3 and 4. the tiny training job ---------------------------------------------------------------


def is_finished(status: dict[str, Any]) -> bool:
    if "terminal" in status:
        return bool(status["terminal"])
    text = json.dumps(status).lower()
    return any(f'"{word}"' in text or f"'{word}'" in text for word in FINISHED_WORDS)


async def bench_launch(work: Path, project: Path, config: Path, runs: int) -> dict[str, float]:
    arguments = {
        "config_path": str(config.relative_to(project)),
        "command": "train",
        "client_cwd": str(project),
    }
    async with Client(ours(work / "state-launch"), mode="legacy", read_timeout_seconds=600) as c:
        await call(c, "run_oumi_job", arguments)  # dry run: loads oumi for validation
        samples = []
        for _ in range(runs):
            started = time.perf_counter()
            job = await call(c, "run_oumi_job", {**arguments, "dry_run": False})
            samples.append(time.perf_counter() - started)
            await call(c, "cancel_job", {"job_id": job["job_id"], "force": True})
    return {"launch_return": ms("run_oumi_job(dry_run=False) returns (real oumi)", samples)}


async def bench_same_job(
    label: str,
    parameters: StdioServerParameters,
    project: Path,
    config: Path,
    runs: int,
    extra: dict[str, Any],
) -> dict[str, float]:
    arguments = {
        "config_path": str(config.relative_to(project)),
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
        **extra,
    }
    async with Client(parameters, mode="legacy", read_timeout_seconds=600) as client:
        started = time.perf_counter()
        job = await call(client, "run_oumi_job", arguments)
        launch_s = time.perf_counter() - started
        job_id = str(job.get("job_id") or job.get("id") or "")
        if not job_id:
            raise SystemExit(f"{label}: no job id in {str(job)[:500]}")
        started = time.perf_counter()
        deadline = time.monotonic() + 300
        status = await call(client, "get_job_status", {"job_id": job_id})
        while not is_finished(status) and time.monotonic() < deadline:
            await anyio.sleep(1.0)
            status = await call(client, "get_job_status", {"job_id": job_id})
        print(
            f"{label}: first run_oumi_job(dry_run=False) {launch_s:.3f} s; job {job_id} "
            f"finished after {time.perf_counter() - started:.1f} s more: "
            f"{json.dumps(status)[:160]}",
            flush=True,
        )
        status_s = await timed(lambda: client.call_tool("get_job_status", {"job_id": job_id}), runs)
        logs_s = await timed(
            lambda: client.call_tool("get_job_logs", {"job_id": job_id, "lines": 200}), runs
        )
        list_s = await timed(lambda: client.call_tool("list_jobs", {}), runs)
    return {
        "first_launch": launch_s * 1000,
        "status": ms(f"{label} get_job_status", status_s),
        "logs": ms(f"{label} get_job_logs(lines=200)", logs_s),
        "list": ms(f"{label} list_jobs", list_s),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--launch-runs", type=int, default=7)
    parser.add_argument("--log-gib", type=float, default=1.0)
    parser.add_argument("--no-competitor", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    print(f"work dir: {work}")
    results: dict[str, Any] = {}
    results.update(anyio.run(bench_big_log, work, args.runs, args.log_gib))
    results.update(anyio.run(bench_list, work, args.runs))
    model = build_tiny_model(work / "tiny-model")
    project = work / "tiny-project"
    config = make_tiny_project(project, model)
    results.update(anyio.run(bench_launch, work, project, config, args.launch_runs))
    results["ours"] = anyio.run(
        bench_same_job, "oumi-mcp-server", ours(work / "state-same"), project, config, args.runs, {}
    )
    competitor = None if args.no_competitor else ensure_competitor(install=False)
    if competitor is None:
        print("oumi-mcp (Oumi 0.9): not installed or skipped; no comparison.")
    else:
        # Its jobs run the `oumi` found on PATH: its own venv's. Its registry and job logs go
        # to ~/.oumi/mcp, so HOME points into the work dir.
        env = base_env(
            work / "state-competitor",
            PATH=f"{competitor.parent}{os.pathsep}{os.environ.get('PATH', '')}",
            HOME=str(work / "competitor-home"),
        )
        (work / "competitor-home").mkdir()
        theirs = StdioServerParameters(command=str(competitor), args=[], env=env, cwd=str(work))
        results["theirs"] = anyio.run(
            bench_same_job, "oumi-mcp (Oumi 0.9)", theirs, project, config, args.runs, {}
        )
        for key in ("status", "logs", "list"):
            ratio = results["theirs"][key] / results["ours"][key]
            print(f"ratio {key}: oumi-mcp / oumi-mcp-server = {ratio:.1f}x")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
