"""Guards: how long after its condition does a guard stop the job? Over stdio.

.venv/bin/python bench/guards.py [--runs 5]

Each run starts the real server (default settings: the guard loop every 1 s), launches
a process job (a fake `oumi` that sleeps) with guards.max_hours = 0.001 (3.6 s), and
polls get_job_status every 0.1 s: from the moment the job has run 3.6 s (its start is
the first answer that says running) to the first answer with stopped_by=max_hours.
The target is two polling intervals.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import call, fake_oumi_server, launch_train, runs_in_fresh_folders

MAX_HOURS = 0.001


async def one_run(root: Path) -> float:
    parameters, project = fake_oumi_server(root)
    async with Client(parameters, mode="legacy", read_timeout_seconds=120) as client:
        job_id = await launch_train(
            client, project, envs={"FAKE_OUMI_SLEEP": "120"}, guards={"max_hours": MAX_HOURS}
        )
        started = None
        with anyio.fail_after(120):
            while True:
                status = await call(client, "get_job_status", {"job_id": job_id})
                if started is None and status["state"] == "running":
                    started = time.monotonic()
                if status.get("stopped_by") == "max_hours":
                    assert started is not None
                    return time.monotonic() - (started + MAX_HOURS * 3600)
                await anyio.sleep(0.1)


if __name__ == "__main__":
    anyio.run(runs_in_fresh_folders, one_run, "condition met -> stopped_by shown")
