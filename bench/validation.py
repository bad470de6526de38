"""validate_config and pre_flight_check latency over stdio, side by side with Oumi 0.9's oumi-mcp.

    .venv/bin/python bench/validation.py [--runs 15] [--no-competitor]

Warm-up is disabled for our server so the first validate_config call shows the
full cost of loading oumi; the oumi import time is measured in a fresh process.
"""

from __future__ import annotations

import argparse
import os
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
from common import Summary, ensure_competitor

from tests.project import make_project


def oumi_import_seconds() -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import oumi.core.configs"], check=True, capture_output=True
    )
    return time.perf_counter() - started


async def _timed(client: Client, tool: str, arguments: dict[str, Any]) -> float:
    started = time.perf_counter()
    result = await client.call_tool(tool, arguments)
    elapsed = time.perf_counter() - started
    if result.is_error:
        raise SystemExit(f"{tool} failed: {result.content[0].text}")  # type: ignore[union-attr]
    return elapsed


async def measure(
    label: str, parameters: StdioServerParameters, project: Path, runs: int, extra: dict[str, Any]
) -> None:
    config = {"config": "configs/train.yaml", "client_cwd": str(project)}
    async with Client(parameters, mode="legacy", read_timeout_seconds=600) as client:
        first = await _timed(client, "validate_config", {**config, **extra})
        later = [await _timed(client, "validate_config", {**config, **extra}) for _ in range(runs)]
        preflight = [await _timed(client, "pre_flight_check", config) for _ in range(runs)]
    print(f"{label} validate_config first call: {first:.3f} s")
    print(Summary(f"{label} validate_config later", later).line("ms", 1000))
    print(Summary(f"{label} pre_flight_check local offline", preflight).line("ms", 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-competitor", action="store_true")
    args = parser.parse_args()

    project = make_project(Path(tempfile.mkdtemp(prefix="bench-validation-")))
    print(f"oumi import (fresh process): {oumi_import_seconds():.3f} s")
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        OUMI_MCP_LOG_LEVEL="WARNING",
        OUMI_MCP_WARMUP="0",
        OUMI_MCP_STATE_DIR=tempfile.mkdtemp(prefix="bench-state-"),
    )
    ours = StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)
    anyio.run(measure, "oumi-mcp-server", ours, project, args.runs, {})
    if args.no_competitor:
        return
    competitor = ensure_competitor(install=False)
    if competitor is None:
        print(
            "oumi-mcp (Oumi 0.9): not installed; run bench/startup.py --install-competitor first."
        )
        return
    theirs = StdioServerParameters(command=str(competitor), args=[], env=env)
    anyio.run(measure, "oumi-mcp (Oumi 0.9)", theirs, project, args.runs, {"task_type": "training"})


if __name__ == "__main__":
    main()
