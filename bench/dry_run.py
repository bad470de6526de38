"""run_oumi_job dry runs over stdio: the cost of reading, planning and checking one request.

    .venv/bin/python bench/dry_run.py [--runs 20] [--before-src DIR]

Three requests on a small project, each validated with the real oumi (imported
once, before timing): a training config run here (our process backend), a job
config on oumi.launcher's local cloud (the launcher path, no SkyPilot), and the
training config with guards (its price and the estimate of its length).
With --before-src DIR, a server importing another checkout's src/ (for example
the previous commit, from `git worktree add /tmp/before HEAD~1`) answers the
same requests, call for call alternating with this one.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import BenchFailure, Summary, base_env, call

from tests.project import make_project, write_yaml

HERE_SRC = Path(__file__).resolve().parents[1] / "src"


def requests(project: Path) -> dict[str, dict[str, Any]]:
    write_yaml(
        project / "jobs" / "local_job.yaml",
        {
            "name": "bench",
            "resources": {"cloud": "local"},
            "working_dir": ".",
            "run": "oumi train -c configs/train.yaml",
        },
    )
    common = {"command": "train", "client_cwd": str(project), "dry_run": True}
    return {
        "training config, run here": {**common, "config_path": "configs/train.yaml"},
        "job config, launcher local cloud": {**common, "config_path": "jobs/local_job.yaml"},
        "training config with guards (price and estimate)": {
            **common,
            "config_path": "configs/train.yaml",
            "guards": {"max_hours": 2},
        },
    }


async def measure(servers: dict[str, StdioServerParameters], project: Path, runs: int) -> None:
    asked = requests(project)
    samples: dict[tuple[str, str], list[float]] = {}
    async with AsyncExitStack() as stack:
        clients = {
            label: await stack.enter_async_context(
                Client(parameters, mode="legacy", read_timeout_seconds=300)
            )
            for label, parameters in servers.items()
        }
        for client in clients.values():  # warm: oumi imported, the job modules loaded
            for arguments in asked.values():
                answer = await call(client, "run_oumi_job", arguments)
                if not answer["dry_run"] or answer["launched"]:
                    raise BenchFailure(f"not a dry run: {answer}")
        for _ in range(runs):
            for request, arguments in asked.items():
                for label, client in clients.items():
                    started = time.perf_counter()
                    await call(client, "run_oumi_job", arguments)
                    elapsed = time.perf_counter() - started
                    samples.setdefault((request, label), []).append(elapsed)
    for (request, label), values in samples.items():
        print(Summary(f"{request}: {label}", values).line("ms", 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--before-src", type=Path, help="another checkout's src/ to compare")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-dry-run-"))
    project = make_project(work / "project")
    trees = {"now": HERE_SRC}
    if args.before_src is not None:
        trees = {"before": args.before_src.resolve(), **trees}
    servers = {
        label: StdioServerParameters(
            command=sys.executable,
            args=["-m", "oumi_mcp_server"],
            env=base_env(work / f"state-{label}", PYTHONPATH=str(src), OUMI_MCP_WARMUP="0"),
        )
        for label, src in trees.items()
    }
    anyio.run(measure, servers, project, args.runs)


if __name__ == "__main__":
    main()
