"""Slurm jobs on the loopback cluster (`make slurm-up`), through the server over stdio.

    .venv/bin/python bench/slurm.py [--runs 15] [--launches 7]

1. run_oumi_job(dry_run=False) return time for a job config (server warm: a dry
   run first, so validation is loaded and the cluster's pre-flight probe is fresh);
   each job is cancelled before the next.
2. get_job_status of a running Slurm job, and list_jobs (no cache: every call asks
   the cluster), against the raw ``launcher.status(cloud="slurm")`` call in a
   process that has oumi.launcher loaded.
3. Time from the launch request to the job's first log line in get_job_logs.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Summary, base_env, call

from tests.project import write_yaml

CLUSTER = "root@localhost"
VENV_BIN = str(Path(sys.executable).parent)


def server(root: Path) -> StdioServerParameters:
    env = base_env(
        root / "state",
        OUMI_SLURM_CONNECTIONS=CLUSTER,
        OUMI_MCP_SLURM_SETUP=f"export PATH={VENV_BIN}:$PATH",
        OUMI_MCP_CLOUDS="slurm",
        OUMI_MCP_LIST_CACHE_S="0",
    )
    return StdioServerParameters(
        command=sys.executable, args=["-m", "oumi_mcp_server"], env=env, cwd=str(root)
    )


async def timed(client: Client, tool: str, arguments: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    answer = await call(client, tool, arguments)
    return time.perf_counter() - started, answer


def raw_status(runs: int) -> Summary:
    """launcher.status(cloud='slurm') in a process of its own, oumi.launcher loaded first."""
    code = f"""
import os, statistics, time
os.environ["OUMI_SLURM_CONNECTIONS"] = "{CLUSTER}"
from oumi import launcher
launcher.status(cloud="slurm")
samples = []
for _ in range({runs}):
    t = time.perf_counter(); launcher.status(cloud="slurm"); samples.append(time.perf_counter() - t)
print(" ".join(str(s) for s in samples))
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=600
    )
    samples = [float(value) for value in done.stdout.split()[-runs:]]
    return Summary("raw launcher.status(cloud='slurm'), oumi loaded", samples)


async def main(runs: int, launches: int) -> None:
    with tempfile.TemporaryDirectory(prefix="oumi-mcp-slurm-") as tmp:
        root = Path(tmp)
        project = root / "project"
        write_yaml(
            project / "jobs" / "job.yaml",
            {"resources": {"cloud": "slurm"}, "run": "echo first-line; sleep 120"},
        )
        args = {
            "config_path": "jobs/job.yaml",
            "command": "train",
            "client_cwd": str(project),
            "cluster_name": CLUSTER,
        }
        async with Client(server(root), mode="legacy") as client:
            await call(client, "run_oumi_job", args)  # warm: validation and the probe
            returns, first_lines = [], []
            for _ in range(launches):
                await call(client, "run_oumi_job", args)  # the probe stays fresh
                took, launched = await timed(client, "run_oumi_job", {**args, "dry_run": False})
                returns.append(took)
                job_id = launched["job_id"]
                started = time.perf_counter() - took
                while True:
                    logs = await call(client, "get_job_logs", {"job_id": job_id, "lines": 5})
                    if any("first-line" in chunk["text"] for chunk in logs["chunks"]):
                        first_lines.append(time.perf_counter() - started)
                        break
                    if time.perf_counter() - started > 120:
                        raise RuntimeError("no first log line within 120 s")
                    await anyio.sleep(0.2)
                if len(returns) < launches:  # the node has few CPUs: free it for the next
                    await call(client, "cancel_job", {"job_id": job_id})
            status_samples, list_samples = [], []
            for _ in range(runs):
                status_samples.append(
                    (await timed(client, "get_job_status", {"job_id": job_id}))[0]
                )
                list_samples.append((await timed(client, "list_jobs", {"status": "all"}))[0])
            listed = await call(client, "list_jobs", {"status": "all", "limit": 1000})
            for row in listed["jobs"]:
                if row["job_id"] and row["state"] in ("running", "queued", "launching"):
                    await call(client, "cancel_job", {"job_id": row["job_id"]})
        summaries = [
            Summary("run_oumi_job(dry_run=False) returns", returns),
            Summary("request -> first log line in get_job_logs", first_lines),
            Summary("get_job_status, a running Slurm job", status_samples),
            Summary(f"list_jobs, no cache ({len(listed['jobs'])} jobs listed)", list_samples),
            raw_status(runs),
        ]
    for summary in summaries:
        print(summary.line("ms", 1000.0))
    raw = summaries[-1].median
    print(
        f"get_job_status / raw status: {statistics.median(status_samples) / raw:.2f}; "
        f"list_jobs / raw status: {statistics.median(list_samples) / raw:.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--launches", type=int, default=7)
    options = parser.parse_args()
    anyio.run(main, options.runs, options.launches)
