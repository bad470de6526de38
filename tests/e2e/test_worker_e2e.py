"""The engine worker behind the real server over stdio: the server process stays small
and free of oumi, a launcher call that hangs costs one deadline, and a killed worker
costs nothing."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import psutil
import pytest
from mcp import Client

from tests.conftest import stdio_parameters
from tests.e2e.test_jobs_e2e import call
from tests.e2e.test_launcher_e2e import launch_job_config, local_job_config, states_until
from tests.project import make_project
from tests.worker.fakes import HANG_FILE_ENV, REPO, SPEC

pytestmark = pytest.mark.anyio

ENGINE_MODULES = ("oumi", "torch", "transformers", "sky")
SERVER_RSS_LIMIT_MB = 150


async def server_info(client: Client) -> dict[str, Any]:
    info = await client.read_resource("server://info")
    return json.loads(info.contents[0].text)  # type: ignore[union-attr,no-any-return]


async def test_a_session_that_validates_launches_lists_and_reads_logs_keeps_oumi_out(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "project")
    job = local_job_config(project, "echo hello-from-the-local-cloud")
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        checked = await call(
            client, "validate_config", {"config": "configs/train.yaml", "client_cwd": str(project)}
        )
        assert checked["valid"], checked
        job_id = await launch_job_config(client, project, job)
        seen, status = await states_until(client, job_id, {"completed", "failed"}, 120)
        assert status["state"] == "completed", (seen, status)
        listed = await call(client, "list_jobs", {})
        assert job_id in [row["job_id"] for row in listed["jobs"]]
        clusters = await call(client, "list_clusters", {})
        (local,) = [row for row in clusters["clusters"] if job_id in row["our_job_ids"]]
        assert local["cloud"] == "local" and local["cluster_name"] == status["cluster_name"]
        assert local["jobs_running"] == 0 and local["idle_minutes"] is not None
        assert not local["bills_until_stopped"] and not local["warning"], local
        logs = await call(client, "get_job_logs", {"job_id": job_id, "stream": "stdout"})
        assert "hello-from-the-local-cloud" in json.dumps(logs)
        info = await server_info(client)
        loaded = [name for name in info["heavy_modules_loaded"] if name in ENGINE_MODULES]
        assert loaded == [], f"the server process imported {loaded}"
        worker = info["engine_worker"]
        assert worker["running"] and worker["clients"] == 1 and worker["pid"] != info["pid"]
        server_mb = psutil.Process(info["pid"]).memory_info().rss / 2**20
        assert server_mb <= SERVER_RSS_LIMIT_MB, f"server RSS {server_mb:.0f} MB"


def fake_engine_env(hang_file: Path) -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH", "")]))
    return {
        "OUMI_MCP_WORKER_ENGINES": SPEC,
        HANG_FILE_ENV: str(hang_file),
        "PYTHONPATH": pythonpath,
        "OUMI_MCP_CLOUD_STATUS_TIMEOUT_S": "1",  # a job's status: 2 s
    }


async def thread_count_settles_to(pid: int, at_most: int, within_s: float = 5.0) -> int:
    deadline = time.monotonic() + within_s
    count = psutil.Process(pid).num_threads()
    while count > at_most and time.monotonic() < deadline:
        await anyio.sleep(0.2)
        count = psutil.Process(pid).num_threads()
    return count


async def test_a_hanging_launcher_call_costs_one_deadline_and_a_killed_worker_nothing(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "project")
    job = local_job_config(project, "echo never-run: the engines are fakes")
    hang_file = tmp_path / "hang"
    parameters = stdio_parameters(tmp_path, **fake_engine_env(hang_file))
    heard: list[str] = []

    async def on_message(message: Any) -> None:
        if getattr(message, "method", "") == "notifications/message":
            heard.append(str(message.params.data))

    async with Client(parameters, mode="legacy", message_handler=on_message) as client:
        job_id = await launch_job_config(client, project, job)
        _, status = await states_until(client, job_id, {"running"}, 30)
        assert status["state"] == "running", status
        info = await server_info(client)
        server, stuck = info["pid"], info["engine_worker"]["pid"]
        threads = psutil.Process(server).num_threads()

        hang_file.write_text("status\n")
        started = time.monotonic()
        answer = await client.call_tool("get_job_status", {"job_id": job_id})
        took = time.monotonic() - started
        text = json.dumps(answer.structured_content) + str(answer.content)
        assert "did not answer within" in text, text
        assert took < 2.0 + 3.0, f"answered after {took:.1f} s"
        hang_file.unlink()

        started = time.monotonic()
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "running", status
        assert time.monotonic() - started < 2.0 + 3.0  # 2 s plus a worker's start
        info = await server_info(client)
        assert info["engine_worker"]["pid"] != stuck
        assert "did not answer" in info["engine_worker"]["last_restart"]["reason"]
        assert await thread_count_settles_to(server, threads) <= threads

        os.kill(info["engine_worker"]["pid"], signal.SIGKILL)
        heard.clear()
        status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "running", status
        # The session says what happened, beside the answer.
        assert any("ended unexpectedly" in said for said in heard), heard
        listed = await call(client, "list_jobs", {})
        assert job_id in [row["job_id"] for row in listed["jobs"]]
