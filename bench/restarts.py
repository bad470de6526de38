"""Run until done: how long after an attempt ends is the next one running? Over stdio.

.venv/bin/python bench/restarts.py [--runs 5]

Each run starts the real server (default settings: the restart loop every 5 s, a 5 s
backoff before the first restart), launches a process job with max_restarts=1 whose
`oumi` (a fake script) runs 2 s and ends as if killed by SIGTERM (listed in
restart_on), and polls get_job_status every 0.1 s: from the first answer after the
attempt ended (state queued) to the first that lists the second attempt. The target is
30 s; the design bound is the loop interval plus the backoff (10 s).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import call, fake_oumi_server, launch_train, runs_in_fresh_folders


async def one_run(root: Path) -> float:
    parameters, project = fake_oumi_server(root)
    async with Client(parameters, mode="legacy", read_timeout_seconds=120) as client:
        job_id = await launch_train(
            client,
            project,
            envs={"FAKE_OUMI_SLEEP": "2", "FAKE_OUMI_EXIT": "143"},
            max_restarts=1,
            restart_on=["SIGTERM"],
        )
        ended = None
        with anyio.fail_after(120):
            while True:
                status = await call(client, "get_job_status", {"job_id": job_id})
                if ended is None and status["state"] == "queued":
                    ended = time.monotonic()
                if ended is not None and len(status["attempts"]) >= 2:
                    return time.monotonic() - ended
                await anyio.sleep(0.1)


if __name__ == "__main__":
    anyio.run(runs_in_fresh_folders, one_run, "attempt ended -> next attempt listed")
