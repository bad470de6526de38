"""Launcher jobs for real: oumi.launcher's `local` cloud, real oumi, the server over stdio.

The local cloud needs no credentials: a job config with ``resources.cloud:
local`` goes through exactly the path a cloud job takes (background
``launcher.up``, status from ``launcher.status``, logs, cancel). Its worker
picks up a queued job within 5 s.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oumi_mcp_server.jobs.catalog import JOB_MARKER_ENV
from oumi_mcp_server.jobs.os_processes import processes_with_env
from tests.conftest import server_env, stdio_parameters
from tests.e2e.test_jobs_e2e import REAL_JOB_TIMEOUT_S, call
from tests.jsonrpc import RawStdioSession
from tests.project import write_yaml
from tests.tiny_project import make_tiny_project

pytestmark = pytest.mark.anyio

OUMI = str(Path(sys.executable).parent / "oumi")
FINISHED = {"completed", "failed", "cancelled"}


def local_job_config(project: Path, run: str, name: str = "job.yaml") -> Path:
    return write_yaml(
        project / "configs" / name,
        {
            "name": "tiny-on-the-local-cloud",
            "resources": {"cloud": "local"},
            "envs": {"HF_HUB_OFFLINE": "1"},
            "run": run,
        },
    )


async def launch_job_config(client: Client, project: Path, job: Path) -> str:
    """run_oumi_job(dry_run=false) on a job config of ``project``; the job id."""
    arguments = {
        "config_path": str(job.relative_to(project)),
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
    }
    return str((await call(client, "run_oumi_job", arguments))["job_id"])


async def states_until(
    client: Client, job_id: str, wanted: set[str], timeout_s: float = REAL_JOB_TIMEOUT_S
) -> tuple[list[str], dict[str, Any]]:
    """Poll get_job_status; return every distinct state seen, in order, and the last status."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout_s
    while True:
        status = await call(client, "get_job_status", {"job_id": job_id})
        if not seen or seen[-1] != status["state"]:
            seen.append(status["state"])
        if status["state"] in wanted or time.monotonic() > deadline:
            return seen, status
        await anyio.sleep(0.3)


async def test_tiny_training_through_the_local_cloud(tmp_path: Path, tiny_model: Path) -> None:
    project = tmp_path / "project"
    make_tiny_project(project, tiny_model)
    job = local_job_config(project, f"{OUMI} train -c configs/train.yaml")
    arguments = {
        "config_path": str(job.relative_to(project)),
        "command": "train",
        "client_cwd": str(project),
    }
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        dry = await call(client, "run_oumi_job", arguments)
        assert not dry["launched"] and dry["cloud"] == "local"
        assert dry["job_config"]["working_dir"] == str(project)
        assert dry["job_config"]["run"] == f"{OUMI} train -c configs/train.yaml"
        assert dry["checks"]["valid"], dry["checks"]
        started = time.monotonic()
        launched = await call(client, "run_oumi_job", {**arguments, "dry_run": False})
        assert time.monotonic() - started < 5.0
        assert launched["launched"] and launched["state"] == "launching", launched
        job_id = launched["job_id"]

        seen, status = await states_until(client, job_id, FINISHED)
        assert status["state"] == "completed", (seen, status)
        assert "running" in seen, seen  # observed through launcher.status on the way
        assert status["launcher_job_id"] and status["cluster_name"], status
        assert status["reason"].startswith("local/"), status

        logs = await call(client, "get_job_logs", {"job_id": job_id, "stream": "stdout"})
        chunk = logs["chunks"][0]
        assert "launcher_logs" in chunk["path"]
        losses = [line for line in chunk["text"].splitlines() if "'loss'" in line]
        assert losses, chunk["text"][-2000:]

        # Metrics through the launcher path: a job config names no output dir, so the
        # series come from the job's log, as the launcher keeps it.
        metrics = await call(client, "get_job_metrics", {"job_id": job_id, "chart": False})
        assert metrics["found"] and metrics["source_kind"] == "log", metrics
        assert len(metrics["series"]["loss"]) == len(losses)
        assert "launcher_logs" in metrics["source"] and "rounded" in metrics["note"]

        listed = await call(client, "list_jobs", {"status": "completed"})
        mine = [row for row in listed["jobs"] if row["job_id"] == job_id]
        assert len(mine) == 1 and mine[0]["launcher_job_id"] == status["launcher_job_id"]
    assert (project / "output" / "tiny" / "model.safetensors").is_file()


async def test_cancel_a_long_training_on_the_local_cloud_leaves_nothing_running(
    tmp_path: Path, tiny_model: Path
) -> None:
    project = tmp_path / "project"
    make_tiny_project(project, tiny_model, max_steps=100_000)
    job = local_job_config(project, f"{OUMI} train -c configs/train.yaml")
    arguments = {
        "config_path": str(job),
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
    }
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        job_id = (await call(client, "run_oumi_job", arguments))["job_id"]
        deadline = time.monotonic() + REAL_JOB_TIMEOUT_S
        training = False
        while not training and time.monotonic() < deadline:
            logs = await call(client, "get_job_logs", {"job_id": job_id, "lines": 20})
            training = any("'loss'" in chunk["text"] for chunk in logs["chunks"])
            await anyio.sleep(0.5)
        assert training, "the training never logged a step"
        assert processes_with_env(JOB_MARKER_ENV, job_id), "no process carries the job's marker"

        cancelled = await call(client, "cancel_job", {"job_id": job_id})
        assert cancelled["action"] == "cancelled" and cancelled["state"] == "cancelled", cancelled
        assert "launcher.cancel" in cancelled["signals_sent"]
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "cancelled", status
        again = await call(client, "cancel_job", {"job_id": job_id})
        assert again["action"] == "already_finished", again
    # oumi's local cloud terminates only its shell; the training itself must be gone too.
    assert processes_with_env(JOB_MARKER_ENV, job_id) == []


@pytest.mark.slow
def test_the_launcher_path_keeps_stdout_pure(tmp_path: Path, skypilot_api: None) -> None:
    """list_jobs asks gcp by name (SkyPilot prints while it starts its API server), and a
    local-cloud job prints: only JSON-RPC may reach the protocol stream."""
    project = tmp_path / "project"
    project.mkdir()
    job = local_job_config(project, "echo job says hello; echo job complains >&2")
    with RawStdioSession(server_env(tmp_path, OUMI_MCP_CLOUDS=""), cwd=tmp_path) as session:
        session.initialize()
        launched = session.call_tool(
            "run_oumi_job",
            {
                "config_path": str(job),
                "command": "train",
                "client_cwd": str(project),
                "dry_run": False,
            },
            timeout_s=120,
        )
        assert not launched["result"].get("isError"), launched
        job_id = launched["result"]["structuredContent"]["job_id"]
        listed = session.call_tool("list_jobs", {"cloud": "gcp"}, timeout_s=240)
        assert not listed["result"].get("isError"), listed
        answered = listed["result"]["structuredContent"]
        asked = answered["clouds_listed"] + [w["cloud"] for w in answered["warnings"]]
        assert "gcp" in asked and "local" in asked, answered  # SkyPilot was asked
        deadline = time.monotonic() + 60
        state = ""
        while state != "completed" and time.monotonic() < deadline:
            status = session.call_tool("get_job_status", {"job_id": job_id}, timeout_s=60)
            state = status["result"]["structuredContent"]["state"]
            time.sleep(0.5)
        assert state == "completed"
        logs = session.call_tool("get_job_logs", {"job_id": job_id}, timeout_s=60)
        texts = [c["text"] for c in logs["result"]["structuredContent"]["chunks"]]
        assert any("job says hello" in text for text in texts), texts
        session.close()
        stdout_lines = session.stdout_lines
    assert stdout_lines
    for line in stdout_lines:
        assert json.loads(line).get("jsonrpc") == "2.0"


async def test_a_local_cloud_job_is_over_only_when_its_processes_are(tmp_path: Path) -> None:
    """The local cloud reports a run block that left a background process as completed;
    the job still runs, and cancel_job stops what is left."""
    project = tmp_path / "project"
    project.mkdir()
    job = local_job_config(project, "sleep 300 > /dev/null 2>&1 &\necho started")
    arguments = {
        "config_path": str(job),
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
    }
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        job_id = (await call(client, "run_oumi_job", arguments))["job_id"]
        seen, status = await states_until(client, job_id, {"running"} | FINISHED, 60.0)
        deadline = time.monotonic() + 60.0
        while "still running" not in status["reason"] and time.monotonic() < deadline:
            status = await call(client, "get_job_status", {"job_id": job_id})
            await anyio.sleep(0.3)
        assert status["state"] == "running", (seen, status)
        assert "oumi.launcher reports the job completed" in status["reason"], status
        assert "1 process of the job is still running" in status["reason"], status
        assert len(processes_with_env(JOB_MARKER_ENV, job_id)) == 1

        cancelled = await call(client, "cancel_job", {"job_id": job_id})
        assert cancelled["action"] == "cancelled", cancelled
        assert cancelled["signals_sent"] == ["SIGTERM"], cancelled
        assert "left running" in cancelled["message"], cancelled
        assert processes_with_env(JOB_MARKER_ENV, job_id) == []
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "completed", status  # what the launcher said, now true
