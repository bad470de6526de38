"""Real jobs, real oumi, the real server over stdio with the official MCP client.

The tiny Llama (tests/tiny_project.py) trains 10 steps on CPU in about 15 s,
nearly all of it oumi's import time. The concurrency test uses a fake `oumi`
script (injected with OUMI_MCP_OUMI_EXECUTABLE) but still real processes.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.types import ImageContent
from PIL import Image

from oumi_mcp_server.jobs.os_processes import live_group_members
from tests.conftest import stdio_parameters
from tests.jobs_support import fake_oumi
from tests.project import make_project
from tests.tiny_project import TRAIN_STEPS, make_tiny_project

pytestmark = pytest.mark.anyio

REAL_JOB_TIMEOUT_S = 240.0


async def call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text  # type: ignore[union-attr]
    return dict(result.structured_content or {})


async def wait_status(
    client: Client, job_id: str, states: set[str], timeout_s: float = REAL_JOB_TIMEOUT_S
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        status = await call(client, "get_job_status", {"job_id": job_id})
        if status["state"] in states or time.monotonic() > deadline:
            return status
        await anyio.sleep(0.5)


async def wait_for_log(client: Client, job_id: str, needle: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        logs = await call(client, "get_job_logs", {"job_id": job_id, "lines": 50})
        if any(needle in chunk["text"] for chunk in logs["chunks"]):
            return True
        await anyio.sleep(0.5)
    return False


async def server_pid(client: Client) -> int:
    info = (await client.read_resource("server://info")).contents[0].text  # type: ignore[union-attr]
    return int(json.loads(info)["pid"])


def launch_arguments(config: Path, project: Path, **extra: Any) -> dict[str, Any]:
    return {
        "config_path": str(config.relative_to(project)),
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
        **extra,
    }


async def test_train_the_tiny_model_to_completion(tmp_path: Path, tiny_model: Path) -> None:
    project = tmp_path / "project"
    config = make_tiny_project(project, tiny_model)
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        dry_run = {**launch_arguments(config, project), "dry_run": True}
        dry = await call(client, "run_oumi_job", dry_run)
        assert dry["checks"]["valid"] and not dry["checks"]["blocking"], dry["checks"]
        started = time.monotonic()
        launched = await call(client, "run_oumi_job", launch_arguments(config, project))
        assert launched["launched"], launched
        assert time.monotonic() - started < 5.0
        job_id = launched["job_id"]
        status = await wait_status(client, job_id, {"completed", "failed", "cancelled"})
        assert status["state"] == "completed", status
        assert status["exit_code"] == 0
        logs = await call(client, "get_job_logs", {"job_id": job_id, "stream": "stdout"})
        losses = [line for line in logs["chunks"][0]["text"].splitlines() if "'loss'" in line]
        assert len(losses) == 10, logs["chunks"][0]["text"][-2000:]
    output = project / "output" / "tiny"
    assert status["output_dir"] == str(output)
    assert (output / "model.safetensors").is_file() and (output / "config.json").is_file()


async def test_cancel_a_long_training_kills_its_process_group(
    tmp_path: Path, tiny_model: Path
) -> None:
    project = tmp_path / "project"
    config = make_tiny_project(project, tiny_model, max_steps=100_000)
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        launched = await call(client, "run_oumi_job", launch_arguments(config, project))
        job_id = launched["job_id"]
        assert await wait_for_log(client, job_id, "'loss'", REAL_JOB_TIMEOUT_S)
        pid = (await call(client, "get_job_status", {"job_id": job_id}))["pid"]
        assert live_group_members(pid)
        cancelled = await call(client, "cancel_job", {"job_id": job_id})
        assert cancelled["action"] == "cancelled", cancelled
        assert cancelled["state"] == "cancelled" and "SIGTERM" in cancelled["signals_sent"]
        assert live_group_members(pid) == []
        again = await call(client, "cancel_job", {"job_id": job_id})
        assert again["action"] == "already_finished"
        assert "already finished (cancelled)" in again["message"]


async def test_a_job_survives_its_server_being_killed(tmp_path: Path, tiny_model: Path) -> None:
    project = tmp_path / "project"
    config = make_tiny_project(project, tiny_model)
    with contextlib.suppress(Exception, BaseExceptionGroup):
        async with Client(stdio_parameters(tmp_path), mode="legacy") as first:
            launched = await call(first, "run_oumi_job", launch_arguments(config, project))
            job_id = launched["job_id"]
            os.kill(await server_pid(first), signal.SIGKILL)
    async with Client(stdio_parameters(tmp_path), mode="legacy") as second:
        status = await call(second, "get_job_status", {"job_id": job_id})
        assert status["state"] == "running", status
        final = await wait_status(second, job_id, {"completed", "failed", "cancelled"})
        assert (final["state"], final["exit_code"]) == ("completed", 0), final
        listed = await call(second, "list_jobs", {})
        assert [job["job_id"] for job in listed["jobs"]] == [job_id]


async def test_a_job_that_ends_while_no_server_runs_reports_its_exit(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    fake = str(fake_oumi(tmp_path / "bin"))
    parameters = stdio_parameters(tmp_path, OUMI_MCP_OUMI_EXECUTABLE=fake)
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
    }
    async with Client(parameters, mode="legacy") as first:
        ok = await call(first, "run_oumi_job", {**arguments, "envs": {"FAKE_OUMI_SLEEP": "2"}})
        bad = await call(
            first,
            "run_oumi_job",
            {**arguments, "envs": {"FAKE_OUMI_SLEEP": "2", "FAKE_OUMI_EXIT": "7"}},
        )
    # No server now; wait for both jobs to record their exit.
    deadline = time.monotonic() + 60
    exits = [Path(job["run_dir"]) / "exit.json" for job in (ok, bad)]
    while not all(path.exists() for path in exits) and time.monotonic() < deadline:
        await anyio.sleep(0.2)
    async with Client(parameters, mode="legacy") as second:
        done = await call(second, "get_job_status", {"job_id": ok["job_id"]})
        failed = await call(second, "get_job_status", {"job_id": bad["job_id"]})
    assert (done["state"], done["exit_code"]) == ("completed", 0)
    assert (failed["state"], failed["exit_code"]) == ("failed", 7)


async def test_a_bad_dataset_forced_past_validation_fails_with_the_output_tail(
    tmp_path: Path, tiny_model: Path
) -> None:
    project = tmp_path / "project"
    config = make_tiny_project(project, tiny_model)
    override = "data.train.datasets[0].dataset_path=data/no_such_file.jsonl"
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        launched = await call(
            client, "run_oumi_job", launch_arguments(config, project, overrides=[override])
        )
        assert launched["checks"]["valid"] and launched["launched"]
        assert "--" + override in launched["argv"]
        status = await wait_status(client, launched["job_id"], {"completed", "failed"})
    assert status["state"] == "failed" and status["exit_code"] not in (0, None), status
    # oumi's CLI reports this error on stdout; tracebacks would be in stderr_tail.
    tails = status["stderr_tail"] + status["stdout_tail"]
    assert any("no_such_file.jsonl' does not exist" in line for line in tails), tails


async def test_two_servers_launching_at_once_lose_no_record(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    fake = str(fake_oumi(tmp_path / "bin"))
    parameters = stdio_parameters(tmp_path, OUMI_MCP_OUMI_EXECUTABLE=fake)
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
    }
    launched: list[str] = []

    async def server(index: int) -> None:
        async with Client(parameters, mode="legacy", read_timeout_seconds=300) as client:
            await call(client, "run_oumi_job", {**arguments, "dry_run": True})  # loads oumi

            async def one(number: int) -> None:
                result = await call(
                    client, "run_oumi_job", {**arguments, "job_name": f"s{index}-{number}"}
                )
                launched.append(result["job_id"])

            async with anyio.create_task_group() as group:
                for number in range(20):
                    group.start_soon(one, number)

    async with anyio.create_task_group() as group:
        group.start_soon(server, 1)
        group.start_soon(server, 2)
    assert len(launched) == 40
    async with Client(parameters, mode="legacy") as client:
        listed = await call(client, "list_jobs", {"limit": 1000})
        assert listed["total"] == 40
        assert {job["job_id"] for job in listed["jobs"]} == set(launched)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            listed = await call(client, "list_jobs", {"status": "completed", "limit": 1000})
            if listed["total"] == 40:
                break
            await anyio.sleep(0.5)
        assert listed["total"] == 40, listed["counts"]


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")
async def test_a_subscribed_client_hears_the_real_training_finish_and_reads_its_curve(
    tmp_path: Path, tiny_model: Path
) -> None:
    project = tmp_path / "project"
    config = make_tiny_project(project, tiny_model)
    updates: list[str] = []

    async def on_message(message: Any) -> None:
        if getattr(message, "method", "") == "notifications/resources/updated":
            updates.append(str(message.params.uri))

    parameters = stdio_parameters(tmp_path)
    async with Client(parameters, mode="legacy", message_handler=on_message) as client:
        launched = await call(client, "run_oumi_job", launch_arguments(config, project))
        job_id = launched["job_id"]
        await client.subscribe_resource(f"jobs://{job_id}")
        with anyio.fail_after(REAL_JOB_TIMEOUT_S):
            while f"jobs://{job_id}" not in updates:
                await anyio.sleep(0.1)
        status = await call(client, "get_job_status", {"job_id": job_id})
        # The first change may be queued/launching -> running; wait for the final one.
        with anyio.fail_after(REAL_JOB_TIMEOUT_S):
            while not status["terminal"]:
                seen = len(updates)
                while len(updates) == seen:
                    await anyio.sleep(0.1)
                status = await call(client, "get_job_status", {"job_id": job_id})
        assert status["state"] == "completed", status
        result = await client.call_tool("get_job_metrics", {"job_id": job_id})
        assert not result.is_error, result.content
        # The speed just read estimates a longer run of the same config here.
        longer = launch_arguments(
            config, project, dry_run=True, overrides=["training.max_steps=360000"]
        )
        cost = (await call(client, "run_oumi_job", {**longer, "guards": {"max_hours": 1}}))["cost"]
    answer = dict(result.structured_content or {})
    rate = answer["summary"]["steps_per_second"]
    assert rate and cost["estimated_hours"] == pytest.approx(360000 / rate / 3600, rel=0.01)
    assert job_id in cost["estimate_basis"] and "this machine" in cost["estimate_basis"]
    assert cost["estimated_total_usd"] == 0.0  # this machine costs 0 unless priced
    written = (project / "output" / "tiny" / "metrics_rank0000.jsonl").read_text()
    records = [
        json.loads(line)
        for line in written.splitlines()
        if '"loss"' in line and '"train_loss"' not in line
    ]
    assert len(records) == TRAIN_STEPS and answer["source_kind"] == "metrics_jsonl"
    assert [step for step, _ in answer["series"]["loss"]] == list(range(1, TRAIN_STEPS + 1))
    assert answer["summary"]["first_loss"] == pytest.approx(records[0]["loss"])
    assert answer["summary"]["last_loss"] == pytest.approx(records[-1]["loss"])
    images = [block for block in result.content if isinstance(block, ImageContent)]
    picture = Image.open(io.BytesIO(base64.b64decode(images[0].data)))
    assert picture.format == "PNG" and picture.size[0] >= 600


async def test_a_real_failure_is_diagnosed_and_its_relaunch_dry_run_shown(
    tmp_path: Path, tiny_model: Path
) -> None:
    project = tmp_path / "project"
    config = make_tiny_project(project, tiny_model)
    override = "data.train.datasets[0].dataset_path=data/no_such_file.jsonl"
    async with Client(stdio_parameters(tmp_path), mode="legacy") as client:
        launched = await call(
            client, "run_oumi_job", launch_arguments(config, project, overrides=[override])
        )
        job_id = launched["job_id"]
        status = await wait_status(client, job_id, {"completed", "failed"})
        diagnosis = await call(client, "diagnose_job", {"job_id": job_id})
        relaunch = await call(client, "relaunch_job", {"job_id": job_id})
    assert status["state"] == "failed" and status["cause"] == diagnosis["cause"]
    assert diagnosis["cause"] == "dataset_not_found", diagnosis
    assert any("no_such_file.jsonl" in item["text"] for item in diagnosis["evidence"])
    assert relaunch["dry_run"] and not Path(relaunch["new_config_path"]).exists()
    # The override that broke the run is replayed (the fix does not set it): the dry run
    # shows it, so the user sees what to change before launching.
    assert "--" + override in relaunch["run"]["argv"]
