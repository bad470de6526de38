"""stop_cluster and down_cluster: confirmation, clear errors, time limits, the real engine."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, types

from oumi_mcp_server.errors import EngineTimeoutError, InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.launcher.clusters import ClusterService
from oumi_mcp_server.jobs.launcher.engine import LauncherJob, OumiLauncherEngine
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings

pytestmark = pytest.mark.anyio


class RecordingEngine:
    """A launcher that records what it was asked to do (and can hang)."""

    def __init__(self, *, hang: threading.Event | None = None) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.hang = hang
        self.clusters = {("gcp", "my-cluster")}

    def clouds(self) -> list[str]:
        return ["aws", "gcp", "local"]

    def _act(self, action: str, cloud: str, cluster: str) -> None:
        if self.hang is not None:
            self.hang.wait(10)
        if (cloud, cluster) not in self.clusters:
            raise ValueError(f"Cluster {cluster} not found.")
        self.calls.append((action, cloud, cluster))

    def stop(self, cloud: str, cluster: str) -> None:
        self._act("stop", cloud, cluster)

    def down(self, cloud: str, cluster: str) -> None:
        self._act("down", cloud, cluster)

    def up(self, job_config: Mapping[str, Any], cluster_name: str | None) -> LauncherJob:
        raise NotImplementedError

    def status(
        self, cloud: str, cluster: str | None = None, job_id: str | None = None
    ) -> list[LauncherJob]:
        return []

    def cancel(self, cloud: str, cluster: str, job_id: str) -> LauncherJob:
        raise NotImplementedError

    def read_logs(
        self, cloud: str, cluster: str, job_id: str, *, max_bytes: int, timeout_s: float
    ) -> str:
        return ""


def _service(engine: RecordingEngine, timeout_s: float = 5) -> ClusterService:
    return ClusterService(lambda: engine, timeout_s=timeout_s)


async def test_down_without_confirmation_does_nothing_and_says_what_would_be_lost() -> None:
    engine = RecordingEngine()
    result = await _service(engine).down("gcp", "my-cluster", confirm=True, confirm_cluster_name="")
    assert result.action == "confirmation_required"
    assert "lost" in result.effect and "confirm_cluster_name='my-cluster'" in result.next_step
    result = await _service(engine).down(
        "gcp", "my-cluster", confirm=False, confirm_cluster_name="my-cluster"
    )
    assert result.action == "confirmation_required"
    assert engine.calls == []


async def test_down_with_both_confirmations_deletes() -> None:
    engine = RecordingEngine()
    result = await _service(engine).down(
        "gcp", "my-cluster", confirm=True, confirm_cluster_name="my-cluster"
    )
    assert result.action == "deleted"
    assert engine.calls == [("down", "gcp", "my-cluster")]


async def test_stop_keeps_the_disk() -> None:
    engine = RecordingEngine()
    result = await _service(engine).stop("GCP", "my-cluster")
    assert result.action == "stopped" and "disk is kept" in result.effect
    assert engine.calls == [("stop", "gcp", "my-cluster")]


async def test_unknown_cloud_cluster_and_bad_names_are_clear_errors() -> None:
    engine = RecordingEngine()
    with pytest.raises(InvalidArgumentError, match="not a cloud") as raised:
        await _service(engine).stop("moon", "my-cluster")
    assert "gcp" in raised.value.next_step
    with pytest.raises(NotFoundError, match="No cluster 'other'"):
        await _service(engine).stop("gcp", "other")
    with pytest.raises(InvalidArgumentError, match="cluster_name"):
        await _service(engine).stop("gcp", "../etc; rm -rf /")


async def test_a_hanging_launcher_is_a_structured_timeout() -> None:
    release = threading.Event()
    engine = RecordingEngine(hang=release)
    with pytest.raises(EngineTimeoutError, match=r"did not answer within 0\.2 s") as raised:
        await _service(engine, timeout_s=0.2).stop("gcp", "my-cluster")
    release.set()
    assert "sky status" in raised.value.next_step


async def test_the_real_launcher_reports_a_missing_cluster() -> None:
    service = ClusterService(OumiLauncherEngine, timeout_s=120)
    with pytest.raises(NotFoundError, match="no-such-cluster"):
        await service.stop("local", "no-such-cluster")


async def test_the_tools_through_the_client(settings: Settings, tmp_path: Path) -> None:
    engine = RecordingEngine()
    server = build_server(services=Services.create(settings, launcher=engine))
    async with Client(server) as client:
        preview = await client.call_tool(
            "down_cluster", {"cloud": "gcp", "cluster_name": "my-cluster"}
        )
        assert not preview.is_error
        assert preview.structured_content is not None
        assert preview.structured_content["action"] == "confirmation_required"
        deleted = await client.call_tool(
            "down_cluster",
            {
                "cloud": "gcp",
                "cluster_name": "my-cluster",
                "confirm": True,
                "confirm_cluster_name": "my-cluster",
            },
        )
        assert deleted.structured_content is not None
        assert deleted.structured_content["action"] == "deleted"
        missing = await client.call_tool("stop_cluster", {"cloud": "gcp", "cluster_name": "gone"})
        assert missing.is_error and "No cluster 'gone'" in missing.content[0].text  # type: ignore[union-attr]
    assert engine.calls == [("down", "gcp", "my-cluster")]


async def test_down_asks_the_user_through_elicitation_where_the_client_can(
    settings: Settings,
) -> None:
    asked: list[str] = []

    def answering(typed: str | None) -> Any:
        async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
            asked.append(params.message)
            if typed is None:
                return types.ElicitResult(action="decline")
            return types.ElicitResult(action="accept", content={"cluster_name": typed})

        return callback

    engine = RecordingEngine()
    server = build_server(services=Services.create(settings, launcher=engine))
    arguments = {"cloud": "gcp", "cluster_name": "my-cluster"}
    for typed in (None, "other-cluster"):  # declined, or the wrong name: nothing is deleted
        async with Client(server, mode="legacy", elicitation_callback=answering(typed)) as client:
            result = await client.call_tool("down_cluster", arguments)
        assert result.structured_content is not None
        assert result.structured_content["action"] == "confirmation_required"
    assert engine.calls == []
    async with Client(
        server, mode="legacy", elicitation_callback=answering("my-cluster")
    ) as client:
        result = await client.call_tool("down_cluster", arguments)
    assert result.structured_content is not None
    assert result.structured_content["action"] == "deleted"
    assert engine.calls == [("down", "gcp", "my-cluster")]
    assert len(asked) == 3 and all("lost for good" in message for message in asked)
