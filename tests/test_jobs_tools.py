"""The job tools and resources through the MCP client: answers, errors, resources."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from oumi_mcp_server.jobs.registry import DB_NAME
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings
from tests.jobs_support import with_fake_oumi
from tests.project import make_project

pytestmark = pytest.mark.anyio


@pytest.fixture
async def jobs_client(settings: Settings, tmp_path: Path) -> AsyncIterator[Client]:
    async with Client(build_server(with_fake_oumi(settings, tmp_path))) as connected:
        yield connected


def _text(result: Any) -> str:
    return str(result.content[0].text)


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, _text(result)
    return dict(result.structured_content or {})


async def _until_finished(client: Client, job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        status = await _call(client, "get_job_status", {"job_id": job_id})
        if status["terminal"] or time.monotonic() > deadline:
            return status


async def test_launch_watch_and_list_through_the_tools(jobs_client: Client, tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
    }
    dry = await _call(jobs_client, "run_oumi_job", arguments)
    assert dry["dry_run"] and not dry["launched"] and dry["argv"][1:3] == ["train", "-c"]
    launched = await _call(
        jobs_client,
        "run_oumi_job",
        {**arguments, "dry_run": False, "envs": {"FAKE_OUMI_SLEEP": "1"}},
    )
    assert launched["launched"] and launched["state"] in ("launching", "running")
    job_id = launched["job_id"]
    status = await _until_finished(jobs_client, job_id)
    assert status["state"] == "completed" and status["exit_code"] == 0
    logs = await _call(jobs_client, "get_job_logs", {"job_id": job_id, "stream": "stdout"})
    assert logs["chunks"][0]["text"].startswith("fake oumi train -c")
    listing = await _call(jobs_client, "list_jobs", {"status": "completed"})
    assert [job["job_id"] for job in listing["jobs"]] == [job_id]
    assert listing["counts"] == {"completed": 1}
    finished = json.loads(
        (await jobs_client.read_resource("jobs://completed")).contents[0].text  # type: ignore[union-attr]
    )
    assert [job["job_id"] for job in finished["jobs"]] == [job_id]
    running = json.loads(
        (await jobs_client.read_resource("jobs://running")).contents[0].text  # type: ignore[union-attr]
    )
    assert running["total"] == 0
    resource = json.loads(
        (await jobs_client.read_resource(f"jobs://{job_id}/logs")).contents[0].text  # type: ignore[union-attr]
    )
    assert [chunk["stream"] for chunk in resource["chunks"]] == ["stdout", "stderr"]
    cancel = await _call(jobs_client, "cancel_job", {"job_id": job_id})
    assert cancel["action"] == "already_finished"


async def test_job_resources_are_listed(jobs_client: Client) -> None:
    listed = {str(r.uri) for r in (await jobs_client.list_resources()).resources}
    assert {"jobs://running", "jobs://completed"} <= listed
    templates = (await jobs_client.list_resource_templates()).resource_templates
    assert "jobs://{job_id}/logs" in {t.uri_template for t in templates}


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("get_job_status", {"job_id": "train_20260101_000000_abcdef"}, "No job with id"),
        ("get_job_status", {"job_id": "../../etc/passwd"}, "not a valid job id"),
        ("get_job_logs", {"job_id": "..", "lines": 5}, "not a valid job id"),
        ("cancel_job", {"job_id": "nope"}, "No job with id"),
        ("list_jobs", {"status": "sleeping"}, "not a job status filter"),
    ],
)
async def test_bad_job_references_are_clear_errors(
    jobs_client: Client, tool: str, arguments: dict[str, Any], expected: str
) -> None:
    result = await jobs_client.call_tool(tool, arguments)
    assert result.is_error
    assert expected in _text(result) and "Next step:" in _text(result)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"job_name": "../../outside"}, "path separator"),
        ({"job_name": "a/b"}, "path separator"),
        ({"command": "launch"}, "'launch' is not a command"),
        ({"command": "train; rm -rf /"}, "is not a command"),
        ({"overrides": ["training.max_steps=1; rm -rf ~"]}, "shell metacharacters"),
        ({"overrides": ["training.output_dir=$(id)"]}, "shell metacharacters"),
        ({"overrides": ["--config=/etc/passwd"]}, "leading dashes"),
        ({"client_cwd": "project"}, "must be absolute"),
        ({"cloud": "moon"}, "not a cloud oumi.launcher knows"),
        ({"cluster_name": "../x"}, "not a cluster name"),
        ({"disk_size_gb": -1}, "disk_size_gb"),
        ({"envs": {"BAD-NAME": "x"}}, "not a valid environment variable name"),
        ({"config_path": "configs/none.yaml"}, "Config file not found"),
    ],
)
async def test_bad_launch_arguments_are_clear_errors(
    jobs_client: Client, tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    project = make_project(tmp_path / "project")
    arguments = {
        "config_path": "configs/train.yaml",
        "command": "train",
        "client_cwd": str(project),
        "dry_run": False,
        **changes,
    }
    result = await jobs_client.call_tool("run_oumi_job", arguments)
    assert result.is_error, result.structured_content
    assert expected in _text(result) and "Next step:" in _text(result)
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("jobs://..%2F..%2Fetc/logs", "not a valid job id"),
        ("jobs://%2E%2E/logs", "not a valid job id"),
        ("jobs://%2Fetc%2Fpasswd/logs", "not a valid job id"),
        ("jobs://bad%20id/logs", "not a valid job id"),
        ("jobs://no-such-job/logs", "No job with id 'no-such-job'"),
    ],
)
async def test_bad_job_ids_in_resource_uris_are_clear_errors(
    jobs_client: Client, uri: str, expected: str
) -> None:
    with pytest.raises(MCPError, match=expected):
        await jobs_client.read_resource(uri)


@pytest.mark.parametrize("how", ["not a database", "a folder"])
async def test_a_damaged_registry_is_a_clear_error_and_other_tools_still_answer(
    settings: Settings, tmp_path: Path, how: str
) -> None:
    project = make_project(tmp_path / "project")
    path = settings.state_dir / DB_NAME
    settings.state_dir.mkdir(parents=True)
    if how == "a folder":
        path.mkdir()
    else:
        path.write_bytes(b"not SQLite\n" * 100)
    async with Client(build_server(with_fake_oumi(settings, tmp_path))) as client:
        for tool, arguments in (
            ("list_jobs", {}),
            ("get_job_status", {"job_id": "some-job"}),
            ("cancel_job", {"job_id": "some-job"}),
            (
                "run_oumi_job",
                {
                    "config_path": "configs/train.yaml",
                    "command": "train",
                    "client_cwd": str(project),
                    "dry_run": False,
                },
            ),
        ):
            result = await client.call_tool(tool, arguments)
            text = "".join(str(getattr(part, "text", "")) for part in result.content)
            assert result.is_error, (tool, text)
            assert "failed unexpectedly" not in text, (tool, text)
            assert str(path) in text and "damaged" in text and "mv " in text, (tool, text)
        dry_run = {"config_path": "configs/train.yaml", "command": "train"}
        dry = await client.call_tool("run_oumi_job", {**dry_run, "client_cwd": str(project)})
        assert not dry.is_error, dry.content
        named = await client.call_tool(
            "run_oumi_job", {**dry_run, "client_cwd": str(project), "job_name": "named"}
        )
        assert not named.is_error, named.content
        assert "damaged" in (named.structured_content or {})["message"]
        for tool, arguments in (
            ("get_started", {}),
            ("validate_config", {"config": "configs/train.yaml", "client_cwd": str(project)}),
        ):
            assert not (await client.call_tool(tool, arguments)).is_error, tool
