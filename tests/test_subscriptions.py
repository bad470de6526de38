"""Job subscriptions: a watching client hears when a job changes; nobody watching, no polling.

Real server in memory, real processes (a fake `oumi` script), both ways of subscribing:
resources/subscribe (handshake-era clients) and subscriptions/listen (2026-07-28).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp.shared.subscriptions import ResourceUpdated

from oumi_mcp_server.jobs.watch import Interest, JobChanges, JobWatcher, diff_states
from oumi_mcp_server.server.app import OumiMcpServer, build_server
from oumi_mcp_server.settings import Settings
from tests.jobs_support import job_service_for, launch_fake_job, with_fake_oumi
from tests.project import make_project

pytestmark = [
    pytest.mark.anyio,
    # resources/subscribe is what handshake-era clients use; the SDK marks it deprecated.
    pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed"),
]

WATCH_INTERVAL_S = 0.1


@pytest.fixture
def watch_server(settings: Settings, tmp_path: Path) -> OumiMcpServer:
    return build_server(
        replace(with_fake_oumi(settings, tmp_path), watch_interval_s=WATCH_INTERVAL_S)
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


class Updates:
    """The resources/updated notifications a client received, with their arrival times."""

    def __init__(self) -> None:
        self.received: list[tuple[str, float]] = []

    async def handle(self, message: Any) -> None:
        if getattr(message, "method", "") == "notifications/resources/updated":
            self.received.append((str(message.params.uri), time.monotonic()))

    def uris(self) -> list[str]:
        return [uri for uri, _ in self.received]

    async def wait_for(self, uri: str, timeout_s: float = 20.0) -> float:
        with anyio.fail_after(timeout_s):
            while uri not in self.uris():
                await anyio.sleep(0.02)
        return next(at for seen, at in self.received if seen == uri)


@pytest.fixture
async def legacy(watch_server: OumiMcpServer) -> AsyncIterator[tuple[Client, Updates]]:
    updates = Updates()
    async with Client(watch_server, mode="legacy", message_handler=updates.handle) as client:
        yield client, updates


async def state_of(client: Client, job_id: str) -> str:
    result = await client.call_tool("get_job_status", {"job_id": job_id})
    return str((result.structured_content or {})["state"])


def test_diff_states_names_each_change_and_collection_moves() -> None:
    before = {"a": "running", "b": "running", "c": "completed"}
    now = {"a": "completed", "b": "running", "c": "completed", "d": "queued"}
    changes = diff_states(before, now, whole_registry=True)
    assert dict(changes.states) == {"a": ("running", "completed")}
    assert changes.running_changed and changes.completed_changed
    assert changes.jobs_added_or_removed
    same = diff_states(before, dict(before), whole_registry=True)
    assert same.empty
    # Watching only some ids: a job missing from one poll is not a launch or removal.
    partial = diff_states({"a": "running"}, {"a": "running", "b": "queued"}, whole_registry=False)
    assert partial.empty


async def test_a_subscribed_client_hears_its_job_finish_and_the_collections_move(
    legacy: tuple[Client, Updates], project: Path, watch_server: OumiMcpServer
) -> None:
    client, updates = legacy
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="1")
    await client.subscribe_resource(f"jobs://{job_id}")
    await client.subscribe_resource("jobs://completed")
    assert watch_server.job_subscriptions.watcher.running
    await updates.wait_for(f"jobs://{job_id}")
    await updates.wait_for("jobs://completed")
    assert await state_of(client, job_id) == "completed"
    body = (await client.read_resource(f"jobs://{job_id}")).contents[0]
    assert '"state": "completed"' in body.text  # type: ignore[union-attr]
    # Not subscribed: never told.
    assert "jobs://running" not in updates.uris()
    assert f"jobs://{job_id}/logs" not in updates.uris()


async def test_unsubscribing_everything_stops_the_watcher(
    legacy: tuple[Client, Updates], project: Path, watch_server: OumiMcpServer
) -> None:
    client, updates = legacy
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="30")
    watcher = watch_server.job_subscriptions.watcher
    await client.subscribe_resource("jobs://running")
    await client.subscribe_resource(f"jobs://{job_id}")
    assert watcher.running
    await client.unsubscribe_resource("jobs://running")
    await anyio.sleep(WATCH_INTERVAL_S * 3)
    assert watcher.running  # one URI still watched
    await client.unsubscribe_resource(f"jobs://{job_id}")
    with anyio.fail_after(5):
        while watcher.running:
            await anyio.sleep(0.02)
    polls = watcher.polls
    cancel = await client.call_tool("cancel_job", {"job_id": job_id})
    assert not cancel.is_error
    await anyio.sleep(WATCH_INTERVAL_S * 5)
    assert watcher.polls == polls and updates.received == []


async def test_without_a_subscriber_no_watcher_runs(
    legacy: tuple[Client, Updates], project: Path, watch_server: OumiMcpServer
) -> None:
    client, updates = legacy
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="0.2")
    with anyio.fail_after(20):
        while await state_of(client, job_id) != "completed":
            await anyio.sleep(0.1)
    await client.read_resource("jobs://running")
    watcher = watch_server.job_subscriptions.watcher
    assert not watcher.running and watcher.polls == 0
    assert updates.received == []


async def test_a_listen_stream_hears_its_job_finish(
    watch_server: OumiMcpServer, project: Path
) -> None:
    async with Client(watch_server) as client:
        job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="1")
        uri = f"jobs://{job_id}"
        async with client.listen(resource_subscriptions=[uri]) as stream:
            assert watch_server.job_subscriptions.watcher.running
            with anyio.fail_after(20):
                async for event in stream:
                    if isinstance(event, ResourceUpdated) and event.uri == uri:
                        break
        assert await state_of(client, job_id) == "completed"
        with anyio.fail_after(5):
            while watch_server.job_subscriptions.watcher.running:
                await anyio.sleep(0.02)


async def test_only_job_resources_of_known_jobs_can_be_subscribed(
    legacy: tuple[Client, Updates], watch_server: OumiMcpServer
) -> None:
    client, _ = legacy
    with pytest.raises(MCPError, match="only job resources change"):
        await client.subscribe_resource("guidance://mle-train")
    with pytest.raises(MCPError, match="No job with id 'nope'"):
        await client.subscribe_resource("jobs://nope")
    with pytest.raises(MCPError, match="job id"):
        await client.subscribe_resource("jobs://..%2F..")
    assert not watch_server.job_subscriptions.watcher.running
    capabilities = client.server_capabilities
    assert capabilities.resources is not None and capabilities.resources.subscribe


async def test_the_watcher_does_not_ask_again_about_a_final_state() -> None:
    asked: list[dict[str, str]] = []
    answers = iter([{"a": "completed", "b": "running"}] + [{"a": "completed", "b": "failed"}] * 9)

    async def read_states(job_ids: object, final: Mapping[str, str]) -> dict[str, str]:
        asked.append(dict(final))
        return next(answers)

    heard: list[JobChanges] = []

    async def publish(changes: JobChanges) -> None:
        heard.append(changes)

    watcher = JobWatcher(lambda: Interest(collections=True), read_states, publish, 0.01)
    watcher.wake()
    with anyio.fail_after(5):
        while len(asked) < 3:
            await anyio.sleep(0.01)
    await watcher.close()
    assert asked[0] == {} and asked[1] == {"a": "completed"}
    assert asked[2] == {"a": "completed", "b": "failed"}
    assert dict(heard[0].states) == {"b": ("running", "failed")}


async def test_live_states_keeps_a_final_state_without_asking_the_engine(
    legacy: tuple[Client, Updates], project: Path, settings: Settings, tmp_path: Path
) -> None:
    client, _ = legacy
    job_id = await launch_fake_job(client, project, FAKE_OUMI_SLEEP="30")
    jobs = await job_service_for(with_fake_oumi(settings, tmp_path))  # the same registry
    try:
        assert (await jobs.live_states([job_id]))[job_id] in {"running", "launching"}
        # Told it is final, the engine is not asked: the answer is what was passed back.
        assert (await jobs.live_states([job_id], {job_id: "completed"})) == {job_id: "completed"}
    finally:
        await jobs.close()
        await client.call_tool("cancel_job", {"job_id": job_id, "force": True})


async def test_a_subscriber_hears_each_attempt_of_a_run_and_its_give_up(
    settings: Settings, tmp_path: Path, project: Path
) -> None:
    """A run with restarts: the job's resource is updated when an attempt ends (queued,
    not final), when the next attempt runs, and when the run gives up (failed)."""
    server = build_server(
        replace(
            with_fake_oumi(settings, tmp_path),
            watch_interval_s=WATCH_INTERVAL_S,
            restart_poll_s=0.2,
            restart_backoff_s=(0.5,),
        )
    )
    updates = Updates()
    async with Client(server, mode="legacy", message_handler=updates.handle) as client:
        result = await client.call_tool(
            "run_oumi_job",
            {
                "config_path": "configs/train.yaml",
                "command": "train",
                "client_cwd": str(project),
                "dry_run": False,
                "envs": {"FAKE_OUMI_EXIT": "143", "FAKE_OUMI_SLEEP": "1"},
                "max_restarts": 1,
                "restart_on": ["SIGTERM"],
            },
        )
        job_id = str((result.structured_content or {})["job_id"])
        uri = f"jobs://{job_id}"
        await client.subscribe_resource(uri)
        await client.subscribe_resource("jobs://completed")
        states: list[str] = []
        with anyio.fail_after(60):
            while not states or states[-1] != "failed":
                await anyio.sleep(0.05)
                if updates.uris().count(uri) > len(states):
                    states.append(await state_of(client, job_id))
        status = (await client.call_tool("get_job_status", {"job_id": job_id})).structured_content
        assert status is not None and len(status["attempts"]) == 2
        assert status["restarts"]["next_action"] == "gave up: max_restarts reached (1)"
    assert "queued" in states and states[-1] == "failed", states  # the attempt's end, then
    assert states.index("queued") < len(states) - 1  # ... more news before the give-up
    assert "jobs://completed" in updates.uris()  # it joined the finished jobs once, at the end
