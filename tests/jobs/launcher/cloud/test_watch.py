"""Watching cloud jobs with a scriptable fake oumi.launcher: list, status, logs, pre-flight.

Clouds can hang or fail, and every call is recorded, so the tests check the
time limits, the warnings and that no extra status call is made within the
cache window; the last tests go through the MCP client.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.service import JobService
from oumi_mcp_server.preflight.cloud_check import env_hints
from oumi_mcp_server.preflight.context import build_context
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs.launcher.cloud.support import (
    CANCEL_S,
    CONFIG,
    LIMITS,
    LIST_S,
    MARGIN_S,
    job_service_for_engine,
    launch_on_gcp,
    services_for,
    status_calls,
    structured,
    until,
)
from tests.launcher_support import FakeCloud, FakeLauncher

pytestmark = pytest.mark.anyio


# -- list_jobs -----------------------------------------------------------------------------


async def test_a_failing_cloud_is_a_warning_and_hides_no_other_cloud(
    settings: Settings, project: Path
) -> None:
    engine = FakeLauncher(
        {"gcp": FakeCloud(error="credentials expired"), "aws": FakeCloud(), "local": FakeCloud()}
    )
    engine.add_job("aws", "their-cluster", "7", "sky-job", "RUNNING")
    job_service = job_service_for_engine(settings, engine)
    listed = await job_service.list_jobs()
    assert [(job.cloud, job.launcher_job_id, job.job_id) for job in listed.jobs] == [
        ("aws", "7", "")
    ]
    assert listed.jobs[0].state == "running" and listed.jobs[0].name == "sky-job"
    assert [warning.cloud for warning in listed.warnings] == ["gcp"]
    assert "credentials expired" in listed.warnings[0].error
    assert listed.warnings[0].next_step
    assert listed.clouds_listed == ["aws", "local"]
    await job_service.close()


async def test_a_hanging_cloud_is_a_warning_within_the_time_limit(
    settings: Settings, project: Path
) -> None:
    engine = FakeLauncher(
        {"gcp": FakeCloud(hang_s=LIST_S + 3.0), "aws": FakeCloud(), "local": FakeCloud()}
    )
    engine.add_job("aws", "their-cluster", "7", "sky-job", "RUNNING")
    job_service = job_service_for_engine(settings, engine)
    started = time.monotonic()
    listed = await job_service.list_jobs()
    elapsed = time.monotonic() - started
    assert elapsed < LIST_S + MARGIN_S, elapsed
    assert [warning.cloud for warning in listed.warnings] == ["gcp"]
    assert f"{LIST_S:g} s" in listed.warnings[0].error
    assert [job.launcher_job_id for job in listed.jobs] == ["7"]
    assert "did not answer" in listed.next_step
    await job_service.close()


async def test_only_the_configured_clouds_are_listed(settings: Settings) -> None:
    engine = FakeLauncher({"gcp": FakeCloud(hang_s=LIST_S + 3.0), "aws": FakeCloud()})
    engine.add_job("aws", "their-cluster", "7", "sky-job", "RUNNING")
    job_service = job_service_for_engine(replace(settings, listed_clouds=("aws",)), engine)
    started = time.monotonic()
    listed = await job_service.list_jobs()
    assert time.monotonic() - started < LIST_S + MARGIN_S  # gcp hangs, but is not asked
    assert listed.warnings == [] and listed.clouds_listed == ["aws"]
    assert [job.launcher_job_id for job in listed.jobs] == ["7"]
    assert {call[1] for call in engine.calls_named("status")} == {"aws"}
    await job_service.close()


async def test_list_merges_our_jobs_with_foreign_ones_filters_and_caches(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    ours = await launch_on_gcp(job_service, project)
    engine.add_job("aws", "their-cluster", "7", "sky-job", "SUCCEEDED")
    engine.add_job("gcp", "other-cluster", "3", "by-hand", "RUNNING")

    before = status_calls(engine)
    listed = await job_service.list_jobs()
    assert status_calls(engine) > before  # the clouds were asked
    rows = [(job.job_id, job.cloud, job.cluster_name, job.launcher_job_id) for job in listed.jobs]
    assert rows[0] == (ours.job_id, "gcp", ours.cluster_name, ours.launcher_job_id)
    assert sorted(rows[1:]) == [
        ("", "aws", "their-cluster", "7"),
        ("", "gcp", "other-cluster", "3"),
    ]
    mine = [job for job in listed.jobs if job.launcher_job_id == ours.launcher_job_id]
    assert len(mine) == 1
    assert mine[0].command == "train" and mine[0].config_path == str(project / CONFIG)
    assert mine[0].state == "running"
    assert listed.counts == {"running": 2, "completed": 1}
    assert listed.warnings == []

    calls = status_calls(engine)
    running = await job_service.list_jobs("running")
    assert {job.launcher_job_id for job in running.jobs} == {ours.launcher_job_id, "3"}
    completed = await job_service.list_jobs("completed")
    assert [(job.job_id, job.launcher_job_id) for job in completed.jobs] == [("", "7")]
    finished = await job_service.list_jobs("finished")
    assert finished.total == 1
    active = await job_service.list_jobs("active", limit=1)
    assert active.total == 2 and active.shown == 1 and "1 more" in active.next_step
    assert status_calls(engine) == calls  # all within the cache window


# -- get_job_status by launcher job id ---------------------------------------------------


async def test_status_by_launcher_id_for_foreign_and_our_jobs(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    engine.add_job("aws", "their-cluster", "42", "someone-else", "RUNNING")
    foreign = await job_service.status("42", cloud="aws")
    assert foreign.job_id == "" and foreign.state == "running"
    assert foreign.cloud == "aws" and foreign.cluster_name == "their-cluster"
    assert foreign.launcher_job_id == "42"
    assert "not started by this server" in foreign.next_step

    ours = await launch_on_gcp(job_service, project)
    found = await job_service.status(
        ours.launcher_job_id, cloud="gcp", cluster_name=ours.cluster_name
    )
    assert found.job_id == ours.job_id and found.command == "train"
    assert found.config_path == str(project / CONFIG) and found.state == "running"
    assert (await job_service.status(ours.launcher_job_id, cloud="GCP")).job_id == ours.job_id

    with pytest.raises(NotFoundError, match="knows no job '999' on gcp"):
        await job_service.status("999", cloud="gcp")
    with pytest.raises(NotFoundError, match="gcp/nowhere"):
        await job_service.status(ours.launcher_job_id, cloud="gcp", cluster_name="nowhere")

    engine.add_job("aws", "cluster-a", "5", "a", "RUNNING")
    engine.add_job("aws", "cluster-b", "5", "b", "SUCCEEDED")
    with pytest.raises(InvalidArgumentError, match="cluster-a, cluster-b") as raised:
        await job_service.status("5", cloud="aws")
    assert raised.value.field == "cluster_name"
    picked = await job_service.status("5", cloud="aws", cluster_name="cluster-b")
    assert picked.cluster_name == "cluster-b" and picked.state == "completed" and picked.terminal


async def test_a_terminal_state_is_final(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    record = await launch_on_gcp(job_service, project)
    engine.set_status("gcp", record.launcher_job_id, "SUCCEEDED", "completed", True)
    assert (await job_service.status(record.job_id)).state == "completed"
    engine.set_status("gcp", record.launcher_job_id, "RUNNING", "running", False)
    after = await job_service.status(record.job_id)
    assert after.state == "completed" and after.terminal
    listed = await job_service.list_jobs()
    assert [job.state for job in listed.jobs if job.job_id == record.job_id] == ["completed"]


# -- logs ------------------------------------------------------------------------------------


async def test_cloud_logs_come_from_the_launcher_paged_and_saved(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    record = await launch_on_gcp(job_service, project)
    engine.logs_text = "".join(f"step {i}\n" for i in range(30))

    tail = await job_service.logs(record.job_id, lines=5)
    assert engine.calls_named("logs") == [
        ("logs", "gcp", record.cluster_name, record.launcher_job_id)
    ]
    assert len(tail.chunks) == 1
    chunk = tail.chunks[0]
    assert chunk.text.splitlines() == [f"step {i}" for i in range(25, 30)]
    saved = Path(chunk.path)
    assert saved.is_relative_to(Path(record.run_dir))
    assert saved.read_text() == engine.logs_text
    assert tail.state == "running"

    first = await job_service.logs(record.job_id, lines=10, stream="stdout", offset=0)
    assert first.chunks[0].text.splitlines() == [f"step {i}" for i in range(10)]
    assert first.next_offset == first.chunks[0].end_offset
    second = await job_service.logs(
        record.job_id, lines=10, stream="stdout", offset=first.next_offset
    )
    assert second.chunks[0].text.splitlines() == [f"step {i}" for i in range(10, 20)]

    # The call next_step suggests is one get_job_logs accepts, and it reads on.
    suggested = re.search(r"stream='(\w+)', offset=(\d+)", second.next_step)
    assert suggested is not None, second.next_step
    third = await job_service.logs(
        record.job_id, lines=10, stream=suggested[1], offset=int(suggested[2])
    )
    assert third.chunks[0].text.splitlines() == [f"step {i}" for i in range(20, 30)]
    assert len(engine.calls_named("logs")) == 4


async def test_logs_before_any_output_say_to_come_back(
    job_service: JobService, engine: FakeLauncher, project: Path
) -> None:
    engine.up_gate = threading.Event()  # still launching: nothing to read yet
    launched = await job_service.run(CONFIG, "train", str(project), cloud="gcp", dry_run=False)
    logs = await job_service.logs(launched.job_id)
    assert logs.chunks == [] and logs.state == "launching"
    assert "No output yet" in logs.next_step and launched.job_id in logs.next_step
    engine.up_gate.set()


async def test_polling_a_job_on_a_hanging_cloud_adds_no_threads(settings: Settings) -> None:
    engine = FakeLauncher({"gcp": FakeCloud(hang_s=3.0)})
    engine.add_job("gcp", "their-cluster", "7", "sky-job", "RUNNING")
    job_service = job_service_for_engine(settings, engine, replace(LIMITS, status_s=0.2))
    for _ in range(5):
        with pytest.raises(EngineTimeoutError):
            await job_service.status("7", cloud="gcp", cluster_name="their-cluster")
    # Five polls, one status call: the later polls joined the call still in flight.
    assert len(engine.calls_named("status")) == 1
    await job_service.close()


# -- pre-flight hints for cloud runs ---------------------------------------------------------


async def test_preflight_warns_about_local_files_and_credentials_left_behind(
    job_service: JobService,
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    credentials = tmp_path / "outside" / "service-account.json"
    credentials.parent.mkdir()
    credentials.write_text("{}")
    inside = project / "data" / "train.jsonl"
    monkeypatch.setenv("HF_TOKEN", "hf_local_only")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)

    result = await job_service.run(
        CONFIG,
        "train",
        str(project),
        cloud="gcp",
        envs={"GOOGLE_APPLICATION_CREDENTIALS": str(credentials), "DATA": str(inside)},
    )
    messages = [warning.message for warning in result.checks.warnings]
    assert any("Set locally but not passed to the job: HF_TOKEN." in m for m in messages), messages
    outside = [m for m in messages if "outside the working dir" in m]
    assert len(outside) == 1 and "GOOGLE_APPLICATION_CREDENTIALS" in outside[0]
    assert "DATA" not in outside[0]  # inside the project: it is synced

    passed = await job_service.run(
        CONFIG, "train", str(project), cloud="gcp", envs={"HF_TOKEN": "hf_local_only"}
    )
    assert not [w for w in passed.checks.warnings if "not passed" in w.message]


def test_env_hints_read_the_given_environment(project: Path, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("secret")
    ctx = build_context(CONFIG, str(project), "aws", envs={"KEY_FILE": str(key)})
    hints = env_hints(ctx, environ={"HF_TOKEN": "x", "WANDB_API_KEY": "y", "PATH": "/bin"})
    messages = [hint.message for hint in hints]
    assert len(messages) == 2, messages
    assert "HF_TOKEN, WANDB_API_KEY" in messages[0]
    assert "KEY_FILE" in messages[1]
    assert env_hints(ctx, environ={}) == [hints[1]]
    assert env_hints(build_context(CONFIG, str(project), "aws"), environ={}) == []


# -- through the MCP client --------------------------------------------------------------------


@pytest.fixture
async def cloud_client(
    settings: Settings, engine: FakeLauncher
) -> AsyncIterator[tuple[Client, FakeLauncher]]:
    fast = replace(
        settings,
        cloud_status_timeout_s=LIST_S,
        launcher_cancel_timeout_s=CANCEL_S,
    )
    server = build_server(services=services_for(fast, engine))
    async with Client(server) as connected:
        yield connected, engine


async def test_cloud_arguments_in_the_tool_schemas(
    cloud_client: tuple[Client, FakeLauncher],
) -> None:
    client, _ = cloud_client
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    run = tools["run_oumi_job"].input_schema["properties"]
    assert {"cloud", "cluster_name", "accelerators", "disk_size_gb", "use_spot"} <= set(run)
    assert run["use_spot"]["type"] == "boolean" and run["disk_size_gb"]["type"] == "integer"
    status = tools["get_job_status"].input_schema
    assert {"job_id", "cloud", "cluster_name"} <= set(status["properties"])
    assert status.get("required") == ["job_id"]
    output = tools["run_oumi_job"].output_schema
    assert output is not None
    assert {"job_config", "sync", "reminder"} <= set(output["properties"])


async def test_cloud_dry_run_launch_and_status_through_the_client(
    cloud_client: tuple[Client, FakeLauncher], project: Path
) -> None:
    client, engine = cloud_client
    arguments = {
        "config_path": CONFIG,
        "command": "train",
        "client_cwd": str(project),
        "cloud": "gcp",
        "accelerators": "H100:8",
        "disk_size_gb": 512,
        "use_spot": True,
        "envs": {"WANDB_API_KEY": "wandb-secret"},
    }
    dry = structured(await client.call_tool("run_oumi_job", arguments))
    assert dry["dry_run"] and not dry["launched"]
    assert dry["job_config"]["resources"] == {
        "cloud": "gcp",
        "accelerators": "H100:8",
        "disk_size": 512,
        "use_spot": True,
    }
    assert dry["job_config"]["envs"]["WANDB_API_KEY"] == "***"
    assert dry["sync"]["files"] >= 2 and "down_cluster" in dry["reminder"]
    assert engine.calls_named("up") == []

    launched = structured(await client.call_tool("run_oumi_job", {**arguments, "dry_run": False}))
    assert launched["launched"] and launched["state"] == "launching"
    assert await until(lambda: engine.up_returned.is_set())
    job_id = launched["job_id"]
    assert engine.clouds_by_name["gcp"].jobs[0].name == job_id

    async def state() -> dict[str, Any]:
        return structured(await client.call_tool("get_job_status", {"job_id": job_id}))

    deadline = time.monotonic() + 5
    status = await state()
    while status["state"] != "running" and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
        status = await state()
    assert status["state"] == "running" and status["launcher_job_id"] == "1"

    engine.add_job("aws", "their-cluster", "9", "by-hand", "RUNNING")
    foreign = structured(
        await client.call_tool(
            "get_job_status", {"job_id": "9", "cloud": "aws", "cluster_name": "their-cluster"}
        )
    )
    assert foreign["job_id"] == "" and foreign["cluster_name"] == "their-cluster"
    by_launcher_id = structured(
        await client.call_tool("get_job_status", {"job_id": "1", "cloud": "gcp"})
    )
    assert by_launcher_id["job_id"] == job_id

    cancelled = structured(await client.call_tool("cancel_job", {"job_id": job_id}))
    assert cancelled["action"] == "cancelled" and cancelled["state"] == "cancelled"
    assert engine.calls_named("cancel") == [("cancel", "gcp", "gcp-cluster-1", "1")]
    missing = await client.call_tool("get_job_status", {"job_id": "404", "cloud": "gcp"})
    assert missing.is_error and "Next step:" in missing.content[0].text  # type: ignore[union-attr]
