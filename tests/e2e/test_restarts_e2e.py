"""Two real server processes on one state dir, over stdio: a run that ends three times
is relaunched exactly three times (never twice for one attempt), then gives up."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import anyio
import pytest
from mcp import Client

from tests.conftest import stdio_parameters
from tests.e2e.test_jobs_e2e import call
from tests.jobs_support import fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio


async def test_two_servers_on_one_state_dir_relaunch_each_attempt_once(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    env = {
        "OUMI_MCP_OUMI_EXECUTABLE": str(fake_oumi(tmp_path / "bin")),
        "OUMI_MCP_RESTART_POLL_S": "0.2",
        "OUMI_MCP_RESTART_BACKOFF_S": "0.3",
    }
    parameters = stdio_parameters(tmp_path, **env)
    async with (
        Client(parameters, mode="legacy") as first,
        Client(parameters, mode="legacy") as second,
    ):
        launched = await call(
            first,
            "run_oumi_job",
            {
                "config_path": "configs/train.yaml",
                "command": "train",
                "client_cwd": str(project),
                "dry_run": False,
                "envs": {"FAKE_OUMI_EXIT": "143", "FAKE_OUMI_SLEEP": "0.5"},
                "max_restarts": 3,
                "restart_on": ["SIGTERM"],
            },
        )
        job_id = launched["job_id"]
        with anyio.fail_after(120):
            while True:
                status = await call(second, "get_job_status", {"job_id": job_id})
                if status["state"] == "failed":
                    break
                await anyio.sleep(0.3)
    assert [attempt["attempt"] for attempt in status["attempts"]] == [1, 2, 3, 4]
    assert status["restarts"]["next_action"] == "gave up: max_restarts reached (3)"
    audit = (tmp_path / "state" / "audit.jsonl").read_text().splitlines()
    launches = Counter(
        entry["arguments"]["attempt"]
        for entry in map(json.loads, audit)
        if entry["tool"] == "automatic_restart" and entry["answer"].startswith("launched")
    )
    assert launches == {2: 1, 3: 1, 4: 1}, launches
    run_dirs = sorted(path.name for path in (tmp_path / "state" / "jobs" / job_id).iterdir())
    assert [name for name in run_dirs if name.startswith("attempt-")] == [
        "attempt-2",
        "attempt-3",
        "attempt-4",
    ]
