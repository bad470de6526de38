"""get_job_metrics over stdio on a real tiny training run: cold, warm, and the event loop.

    .venv/bin/python bench/job_metrics.py [--runs 30]

A real server (official client, stdio) trains the tiny Llama (10 steps, CPU), then:
- the first get_job_metrics call (matplotlib is imported then, in a worker thread),
  while a second task pings the server every 20 ms: the slowest ping during that
  call says whether the import blocked other requests;
- ``--runs`` warm calls with the chart (the default: loss) and without it;
- the MCP ping of the same session, the floor of any call.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.types import ImageContent

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Summary, base_env

from tests.tiny_project import build_tiny_model, make_tiny_project


async def train(client: Client, project: Path, config: Path) -> str:
    launched = await client.call_tool(
        "run_oumi_job",
        {
            "config_path": str(config.relative_to(project)),
            "command": "train",
            "client_cwd": str(project),
            "dry_run": False,
        },
    )
    job_id = str((launched.structured_content or {})["job_id"])
    while True:
        status = (await client.call_tool("get_job_status", {"job_id": job_id})).structured_content
        if status and status["terminal"]:
            assert status["state"] == "completed", status
            return job_id
        await asyncio.sleep(0.5)


async def timed_call(client: Client, job_id: str, chart: bool) -> float:
    started = time.perf_counter()
    result = await client.call_tool("get_job_metrics", {"job_id": job_id, "chart": chart})
    took = time.perf_counter() - started
    assert not result.is_error and (result.structured_content or {}).get("found"), result
    has_image = any(isinstance(block, ImageContent) for block in result.content)
    assert has_image == chart
    return took


async def first_call_with_pings(client: Client, job_id: str) -> tuple[float, list[float]]:
    pings: list[float] = []
    done = anyio.Event()

    async def ping_meanwhile() -> None:
        while not done.is_set():
            started = time.perf_counter()
            await client.send_ping()
            pings.append(time.perf_counter() - started)
            await anyio.sleep(0.02)

    async with anyio.create_task_group() as group:
        group.start_soon(ping_meanwhile)
        await anyio.sleep(0.1)
        first = await timed_call(client, job_id, chart=True)
        done.set()
    return first, pings


async def main_async(runs: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        project = work / "project"
        config = make_tiny_project(project, build_tiny_model(work / "model"))
        env = base_env(work / "state", OUMI_MCP_WARMUP="0")
        parameters = StdioServerParameters(
            command=sys.executable, args=["-m", "oumi_mcp_server"], env=env
        )
        async with Client(parameters, mode="legacy", read_timeout_seconds=600) as client:
            job_id = await train(client, project, config)
            first, pings = await first_call_with_pings(client, job_id)
            warm_chart = [await timed_call(client, job_id, chart=True) for _ in range(runs)]
            warm_plain = [await timed_call(client, job_id, chart=False) for _ in range(runs)]
            floor = []
            for _ in range(runs):
                started = time.perf_counter()
                await client.send_ping()
                floor.append(time.perf_counter() - started)
    print(f"first get_job_metrics (imports matplotlib): {first * 1000:.0f} ms")
    print(
        f"pings during it: {len(pings)}, median {statistics.median(pings) * 1000:.1f} ms, "
        f"slowest {max(pings) * 1000:.1f} ms"
    )
    print(Summary("warm get_job_metrics with chart", warm_chart).line("ms", 1000))
    print(Summary("warm get_job_metrics, chart=false", warm_plain).line("ms", 1000))
    print(Summary("MCP ping (floor)", floor).line("ms", 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(main_async(parser.parse_args().runs))


if __name__ == "__main__":
    main()
