"""Bad input gets a clear error; nothing crashes the server."""

from __future__ import annotations

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

pytestmark = pytest.mark.anyio


async def test_unknown_tool_is_an_error_result(client: Client) -> None:
    result = await client.call_tool("no_such_tool", {})
    assert result.is_error
    assert "no_such_tool" in result.content[0].text  # type: ignore[union-attr]


async def test_wrong_argument_type_names_the_field(client: Client) -> None:
    result = await client.call_tool("check_environment", {"check_clouds": "maybe"})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "check_clouds" in text
    assert "bool" in text


async def test_unknown_resource_is_a_clear_error(client: Client) -> None:
    with pytest.raises(MCPError, match="nowhere://"):
        await client.read_resource("nowhere://at-all")


async def test_unknown_guidance_topic_lists_the_topics(client: Client) -> None:
    with pytest.raises(MCPError, match="mle-workflow"):
        await client.read_resource("guidance://no-such-topic")


async def test_server_keeps_serving_after_errors(client: Client) -> None:
    await client.call_tool("no_such_tool", {})
    result = await client.call_tool("get_started", {})
    assert not result.is_error


async def test_unknown_argument_is_rejected_with_a_suggestion(client: Client) -> None:
    result = await client.call_tool("check_environment", {"check_cloud": True})
    assert result.is_error
    text = result.content[0].text  # type: ignore[union-attr]
    assert "'check_cloud'" in text
    assert "did you mean 'check_clouds'" in text
