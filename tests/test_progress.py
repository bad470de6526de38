"""Progress notifications for slow calls (only when asked), and warnings as log messages.

The slow call is real: cancelling a job whose `oumi` ignores SIGTERM waits out the
grace period (2 s here) before the kill.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from oumi_mcp_server.call_progress import close_call, open_call, stage
from oumi_mcp_server.server.app import OumiMcpServer, build_server
from oumi_mcp_server.server.progress import ReportCallProgress
from oumi_mcp_server.settings import Settings
from tests.jobs_support import launch_fake_job, with_fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio


@pytest.fixture
def slow_server(settings: Settings, tmp_path: Path) -> OumiMcpServer:
    return build_server(with_fake_oumi(settings, tmp_path))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


class Heard:
    def __init__(self) -> None:
        self.progress: list[tuple[float, float | None, str | None]] = []
        self.logs: list[tuple[str, str]] = []

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, total, message))

    async def on_message(self, message: Any) -> None:
        if getattr(message, "method", "") == "notifications/message":
            self.logs.append((str(message.params.level), str(message.params.data)))


@pytest.fixture
async def connected(slow_server: OumiMcpServer) -> AsyncIterator[tuple[Client, Heard]]:
    heard = Heard()
    async with Client(slow_server, mode="legacy", message_handler=heard.on_message) as client:
        yield client, heard


async def stubborn_job(client: Client, project: Path) -> str:
    # "line 0" is printed after the TERM trap is set.
    job_id = await launch_fake_job(
        client, project, FAKE_OUMI_SLEEP="60", FAKE_OUMI_IGNORE_TERM="1", FAKE_OUMI_LINES="1"
    )
    with anyio.fail_after(30):
        while True:  # running, with its TERM trap installed
            logs = await client.call_tool("get_job_logs", {"job_id": job_id, "stream": "stdout"})
            chunks = (logs.structured_content or {}).get("chunks", [])
            if any("line 0" in chunk["text"] for chunk in chunks):
                return job_id
            await anyio.sleep(0.05)


async def test_a_slow_call_with_a_progress_token_hears_progress(
    connected: tuple[Client, Heard], project: Path
) -> None:
    client, heard = connected
    job_id = await stubborn_job(client, project)
    started = time.monotonic()
    result = await client.call_tool(
        "cancel_job", {"job_id": job_id}, progress_callback=heard.on_progress
    )
    took = time.monotonic() - started
    assert not result.is_error, result.content
    assert took >= 1.5, took  # the grace period was waited out: a slow call
    assert heard.progress, "no progress notification during a slow call"
    seconds = [progress for progress, _, _ in heard.progress]
    assert seconds == sorted(seconds) and seconds[0] >= 0.9
    assert all(message and message.startswith("cancel_job: ") for *_, message in heard.progress)


async def test_without_a_progress_token_no_progress_is_sent(
    connected: tuple[Client, Heard], project: Path, slow_server: OumiMcpServer
) -> None:
    client, heard = connected
    reporter = next(m for m in slow_server.middleware if isinstance(m, ReportCallProgress))
    job_id = await stubborn_job(client, project)
    before = reporter.sent
    started = time.monotonic()
    result = await client.call_tool("cancel_job", {"job_id": job_id})
    assert not result.is_error and time.monotonic() - started >= 1.5
    assert reporter.sent == before and heard.progress == []


async def test_warnings_during_a_call_reach_the_client_as_log_messages(
    connected: tuple[Client, Heard], settings: Settings
) -> None:
    client, heard = connected
    # The audit log cannot be written (a directory is in its place): the call still
    # answers, and the warning it logs goes to the client, secrets masked.
    (settings.state_dir / "audit.jsonl").mkdir(parents=True)
    result = await client.call_tool("cancel_job", {"job_id": "no-such-job"})
    assert result.is_error  # no such job, but answered
    warnings = [data for level, data in heard.logs if level == "warning"]
    assert any("Could not write the audit log entry of cancel_job" in data for data in warnings)
    await client.set_logging_level("error")
    heard.logs.clear()
    await client.call_tool("cancel_job", {"job_id": "no-such-job"})
    assert heard.logs == []  # below the level the client asked for


def test_stage_outside_a_call_is_a_no_op_and_inside_it_is_kept() -> None:
    stage("nothing listens")  # no call: nothing to keep, no error
    progress, token = open_call("tool")
    try:
        stage("pre-flight: hub", 1, 3)
        assert (progress.text, progress.done, progress.total) == ("pre-flight: hub", 1, 3)
    finally:
        close_call(token)
    stage("after")
    assert progress.text == "pre-flight: hub"
