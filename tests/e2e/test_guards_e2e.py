"""Guards in the real server over stdio, with default intervals: a running job is stopped
by its guard's own loop (nobody calls anything but get_job_status), and the guard's
reason, the cancel and the audit line are there."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.conftest import stdio_parameters
from tests.e2e.test_jobs_e2e import call, launch_arguments
from tests.jobs_support import fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio
MAX_HOURS = 0.0005  # 1.8 s


def guard_lines(audit: Path) -> list[dict[str, Any]]:
    lines = audit.read_text().splitlines() if audit.exists() else []
    return [entry for entry in map(json.loads, lines) if entry["tool"] == "guard"]


async def test_a_guard_stops_a_running_job_on_its_own(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    parameters = stdio_parameters(
        tmp_path, OUMI_MCP_OUMI_EXECUTABLE=str(fake_oumi(tmp_path / "bin"))
    )
    async with Client(parameters, mode="legacy") as client:
        arguments = launch_arguments(
            project / "configs" / "train.yaml",
            project,
            envs={"FAKE_OUMI_SLEEP": "120"},
            guards={"max_hours": MAX_HOURS},
        )
        launched = await call(client, "run_oumi_job", arguments)
        job_id = launched["job_id"]
        with anyio.fail_after(60):
            while True:
                status = await call(client, "get_job_status", {"job_id": job_id})
                if status.get("stopped_by"):
                    break
                await anyio.sleep(0.2)
        with anyio.fail_after(30):
            while status["state"] != "cancelled":
                await anyio.sleep(0.2)
                status = await call(client, "get_job_status", {"job_id": job_id})
        with anyio.fail_after(30):  # written once the cancel returned
            while not (trips := guard_lines(tmp_path / "state" / "audit.jsonl")):
                await anyio.sleep(0.2)
    assert status["stopped_by"] == "max_hours" and "limit is 0.0005 h" in status["stop_reason"]
    (trip,) = trips
    assert "guard max_hours tripped" in trip["answer"] and "cancel: cancelled" in trip["answer"]
