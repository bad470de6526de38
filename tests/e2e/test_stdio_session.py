"""The real server process over stdio, spoken to with the official MCP client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from oumi_mcp_server import __version__
from tests.conftest import stdio_parameters

pytestmark = pytest.mark.anyio

SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "tools.json"


async def test_initialize_handshake_names_the_server(stdio_client: Client) -> None:
    info = stdio_client.server_info
    assert info is not None
    assert (info.name, info.version) == ("oumi-mcp-server", __version__)
    assert stdio_client.instructions and "client_cwd" in stdio_client.instructions
    assert stdio_client.server_capabilities.tools is not None
    assert stdio_client.server_capabilities.resources is not None


async def test_tools_over_stdio_match_the_reviewed_snapshot(stdio_client: Client) -> None:
    listing = await stdio_client.list_tools()
    names = sorted(tool.name for tool in listing.tools)
    assert names == sorted(entry["name"] for entry in json.loads(SNAPSHOT.read_text()))


async def test_resources_list_and_read_over_stdio(stdio_client: Client) -> None:
    listed = {str(resource.uri) for resource in (await stdio_client.list_resources()).resources}
    assert "guidance://cloud-launch" in listed and "server://info" in listed
    text = (await stdio_client.read_resource("guidance://cloud-launch")).contents[0].text  # type: ignore[union-attr]
    assert "ephemeral" in text


async def test_modern_protocol_without_handshake_also_works(tmp_path: Path) -> None:
    async with Client(stdio_parameters(tmp_path), mode="auto") as client:
        result = await client.call_tool("get_started", {})
        assert not result.is_error
        assert result.structured_content is not None
        assert result.structured_content["server_version"] == __version__


async def test_tool_error_over_stdio_is_a_result_not_a_crash(stdio_client: Client) -> None:
    bad = await stdio_client.call_tool("check_environment", {"refresh": "sometimes"})
    assert bad.is_error
    good = await stdio_client.call_tool("check_environment", {})
    assert not good.is_error
