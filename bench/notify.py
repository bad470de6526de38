"""How long after a job ends does a subscribed client hear it? Real server over stdio.

    .venv/bin/python bench/notify.py [--runs 10] [--interval 1.0]

Each run launches a job whose `oumi` (a script) sleeps a second, writes the wall
clock time just before it exits, and exits; the client is subscribed to
``jobs://{job_id}``. The latency is the arrival of the notification that follows
the job's last state change, minus that time. The watcher polls every
``--interval`` seconds (the server's default is 1 s), so the median is expected
near half of it plus the cost of one poll.
"""

from __future__ import annotations

import argparse
import asyncio
import stat
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.stdio import StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import Summary, base_env

from tests.project import make_project

ENDING_OUMI = """#!/bin/sh
sleep 1
python3 -c 'import time; print(repr(time.time()))' > "$BENCH_END_FILE"
exit 0
"""


def ending_oumi(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "oumi"
    script.write_text(ENDING_OUMI)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


async def one_run(client: Client, project: Path, end_file: Path, updates: list[Any]) -> float:
    launched = await client.call_tool(
        "run_oumi_job",
        {
            "config_path": "configs/train.yaml",
            "command": "train",
            "client_cwd": str(project),
            "dry_run": False,
            "envs": {"BENCH_END_FILE": str(end_file)},
        },
    )
    job_id = str((launched.structured_content or {})["job_id"])
    uri = f"jobs://{job_id}"
    await client.subscribe_resource(uri)
    while True:
        heard = [at for seen, at in updates if seen == uri]
        if end_file.exists() and end_file.read_text().strip() and heard:
            ended = float(end_file.read_text())
            after = [at for at in heard if at >= ended]
            if after:
                status = await client.call_tool("get_job_status", {"job_id": job_id})
                assert (status.structured_content or {}).get("state") == "completed", status
                await client.unsubscribe_resource(uri)
                return after[0] - ended
        await asyncio.sleep(0.01)


async def main_async(runs: int, interval: float) -> Summary:
    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        project = make_project(work / "project")
        updates: list[tuple[str, float]] = []

        async def on_message(message: Any) -> None:
            if getattr(message, "method", "") == "notifications/resources/updated":
                updates.append((str(message.params.uri), time.time()))

        env = base_env(
            work / "state",
            OUMI_MCP_OUMI_EXECUTABLE=str(ending_oumi(work / "bin")),
            OUMI_MCP_WATCH_INTERVAL_S=str(interval),
            OUMI_MCP_WARMUP="0",
        )
        parameters = StdioServerParameters(
            command=sys.executable, args=["-m", "oumi_mcp_server"], env=env
        )
        samples = []
        async with Client(parameters, mode="legacy", message_handler=on_message) as client:
            for run in range(runs):
                samples.append(await one_run(client, project, work / f"end-{run}", updates))
        return Summary(f"notification after the job ended (poll {interval:g} s)", samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--interval", type=float, default=1.0)
    arguments = parser.parse_args()
    print(asyncio.run(main_async(arguments.runs, arguments.interval)).line())


if __name__ == "__main__":
    main()
