"""Spawn -> initialize -> tools/list, and idle RSS, side by side with Oumi 0.9's oumi-mcp.

.venv/bin/python bench/startup.py [--runs 15] [--no-competitor] [--install-competitor]
                                 [--before-src DIR] [--floor]

--before-src DIR measures another checkout's src/ too (for example the previous
commit, from `git worktree add /tmp/before HEAD~1`), run for run alternating
with this one, so that both see the same machine. --floor measures the SDK's
own smallest server (bench/floor_server.py) the same way, spawn for spawn, and
prints our start-up as a multiple of it.
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
    await measure_alternating({label: parameters}, runs)


async def measure_alternating(
    servers: dict[str, StdioServerParameters], runs: int
) -> dict[str, list[tuple[float, float, int, int]]]:
    """Each run spawns every server once, in turn; then one summary per server."""
    samples: dict[str, list[tuple[float, float, int, int]]] = {label: [] for label in servers}
    for _ in range(runs):
        for label, parameters in servers.items():
            samples[label].append(await _one_run(parameters))
    for label, rows in samples.items():
        print(Summary(f"{label} spawn->initialize", [row[0] for row in rows]).line())
        print(Summary(f"{label} spawn->tools/list", [row[1] for row in rows]).line())
        rss = Summary(f"{label} idle RSS", [float(row[3]) for row in rows])
        print(rss.line("MB", 1 / 1e6) + f"; {rows[-1][2]} tools")
    return samples


async def measure_against_floor(servers: dict[str, StdioServerParameters], runs: int) -> None:
    """Ours (one or more builds) and the SDK floor, spawn for spawn; each median as a
    multiple of the floor's."""
    env = next(iter(servers.values())).env
    floor = StdioServerParameters(
        command=sys.executable,
        args=[str(Path(__file__).resolve().parent / "floor_server.py")],
        env=env,
    )
    samples = await measure_alternating({"SDK floor": floor, **servers}, runs)
    for index, what in ((0, "spawn->initialize"), (1, "spawn->tools/list")):
        medians = {
            label: Summary(label, [row[index] for row in rows]).median
            for label, rows in samples.items()
        }
        for label in servers:
            ratio = medians[label] / medians["SDK floor"]
            print(f"{label} {what}: {ratio:.3f}x the SDK floor")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--competitor-runs", type=int, default=5)
    parser.add_argument("--no-competitor", action="store_true")
    parser.add_argument("--install-competitor", action="store_true")
    parser.add_argument("--before-src", type=Path, help="another checkout's src/ to compare")
    parser.add_argument("--floor", action="store_true", help="against the SDK's own floor")
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="bench-startup-")
    env = dict(
        os.environ, OUMI_MCP_STATE_DIR=state, HF_HUB_OFFLINE="1", OUMI_MCP_LOG_LEVEL="WARNING"
    )
    ours = StdioServerParameters(command=sys.executable, args=["-m", "oumi_mcp_server"], env=env)
    if args.floor and args.before_src is None:
        anyio.run(measure_against_floor, {"oumi-mcp-server": ours}, args.runs)
    elif args.before_src is None:
        anyio.run(measure, "oumi-mcp-server", ours, args.runs)
    else:
        # Both import from a PYTHONPATH entry, so that both pay the same path lookups.
        here = Path(__file__).resolve().parents[1] / "src"
        servers = {
            f"oumi-mcp-server ({label})": StdioServerParameters(
                command=sys.executable,
                args=["-m", "oumi_mcp_server"],
                env=dict(env, PYTHONPATH=str(src.resolve())),
            )
            for label, src in (("before", args.before_src), ("now", here))
        }
        if args.floor:
            anyio.run(measure_against_floor, servers, args.runs)
        else:
            anyio.run(measure_alternating, servers, args.runs)

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
