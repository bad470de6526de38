"""Spawn -> initialize -> tools/list, and idle RSS, side by side with Oumi 0.9's oumi-mcp.

.venv/bin/python bench/startup.py [--runs 15] [--no-competitor] [--install-competitor]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Summary, child_rss_bytes, ensure_competitor


async def _one_run(parameters: StdioServerParameters) -> tuple[float, float, int, int]:
    """Seconds to initialize, seconds to tools/list, tool count, idle RSS."""
    started = time.perf_counter()
    async with Client(parameters, mode="legacy", read_timeout_seconds=120) as client:
        initialized = time.perf_counter() - started
        tools = await client.list_tools()
        listed = time.perf_counter() - started
        await anyio.sleep(0.5)  # idle
        rss = child_rss_bytes()
    return initialized, listed, len(tools.tools), rss


async def measure(label: str, parameters: StdioServerParameters, runs: int) -> None:
    init_times, list_times, rss_values = [], [], []
    tool_count = 0
    for _ in range(runs):
        initialized, listed, tool_count, rss = await _one_run(parameters)
        init_times.append(initialized)
        list_times.append(listed)
        rss_values.append(float(rss))
    print(Summary(f"{label} spawn->initialize", init_times).line())
    print(Summary(f"{label} spawn->tools/list", list_times).line())
    print(Summary(f"{label} idle RSS", rss_values).line("MB", 1 / 1e6) + f"; {tool_count} tools")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--competitor-runs", type=int, default=5)
    parser.add_argument("--no-competitor", action="store_true")
    parser.add_argument("--install-competitor", action="store_true")
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="bench-startup-")
    env = dict(
        os.environ, OUMI_MCP_STATE_DIR=state, HF_HUB_OFFLINE="1", OUMI_MCP_LOG_LEVEL="WARNING"
    )
    ours = StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)
    anyio.run(measure, "oumi-mcp-server", ours, args.runs)

    if args.no_competitor:
        return
    competitor = ensure_competitor(args.install_competitor)
    if competitor is None:
        print("oumi-mcp (Oumi 0.9): not installed; rerun with --install-competitor to compare.")
        return
    theirs = StdioServerParameters(command=str(competitor), args=[], env=env)
    anyio.run(measure, "oumi-mcp (Oumi 0.9)", theirs, args.competitor_runs)


if __name__ == "__main__":
    main()
