"""tools/list: names, annotations and schemas, against a reviewed snapshot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mcp import Client

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"

pytestmark = pytest.mark.anyio


async def _tool_listing(client: Client) -> list[dict[str, object]]:
    listing = await client.list_tools()
    return [
        {
            "name": tool.name,
            "annotations": tool.annotations.model_dump(by_alias=True, exclude_none=True)
            if tool.annotations
            else None,
            "input_schema": tool.input_schema,
        }
        for tool in sorted(listing.tools, key=lambda t: t.name)
    ]


async def test_tools_match_snapshot(client: Client) -> None:
    listing = await _tool_listing(client)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(listing, indent=2, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert listing == expected, "tools changed: review, then rerun with UPDATE_SNAPSHOTS=1"


async def test_every_tool_declares_its_behaviour(client: Client) -> None:
    for tool in (await client.list_tools()).tools:
        annotations = tool.annotations
        assert annotations is not None, tool.name
        assert annotations.title, tool.name
        assert annotations.read_only_hint is not None, tool.name
        assert annotations.destructive_hint is not None, tool.name
        assert annotations.open_world_hint is not None, tool.name
        assert tool.description and len(tool.description) > 40, tool.name


async def test_get_started_reports_catalog_workflow_and_versions(client: Client) -> None:
    from importlib.metadata import version

    result = await client.call_tool("get_started", {})
    assert not result.is_error
    report = result.structured_content
    assert report is not None
    assert report["oumi_version"] == version("oumi")
    names = {tool["name"] for tool in report["tools"]}
    assert {"get_started", "check_environment"} <= names
    assert all(tool["read_only"] for tool in report["tools"] if tool["name"] == "get_started")
    actions = [step["action"] for step in report["workflow"]]
    assert len(actions) >= 8
    assert any("client_cwd" in rule for rule in report["path_rules"])
    assert {entry["uri"] for entry in report["guidance"]} >= {
        "guidance://mle-workflow",
        "guidance://cloud-launch",
    }
    # Steps whose tools are not registered yet are honestly marked unavailable.
    for step in report["workflow"]:
        assert step["available"] == all(name in names for name in step["tools"])


async def test_check_environment_without_clouds_is_fast_and_loads_nothing(client: Client) -> None:
    result = await client.call_tool("check_environment", {})
    assert not result.is_error
    report = result.structured_content
    assert report is not None
    assert report["engine_versions"]["oumi"].startswith("0.9")
    assert report["clouds"] is None
    assert report["warnings"] == []
