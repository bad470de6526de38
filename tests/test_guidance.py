"""Guidance resources load, and every tool they name exists (or is planned)."""

from __future__ import annotations

import re
from importlib import resources

import pytest
from mcp import Client

from oumi_mcp_server.guidance import TOPICS, all_guidance
from oumi_mcp_server.onboarding import workflow_tool_names

pytestmark = pytest.mark.anyio

# Tools the guidance already describes but that later work adds. This list
# must shrink to empty as those tools land.
PLANNED_TOOLS: set[str] = set()

TOOL_REFERENCE = re.compile(r"`([a-z][a-z0-9_]*)\(")


async def test_every_guidance_resource_is_listed_and_readable(client: Client) -> None:
    listed = {str(resource.uri) for resource in (await client.list_resources()).resources}
    for topic in TOPICS:
        uri = f"guidance://{topic}"
        assert uri in listed
        content = (await client.read_resource(uri)).contents[0]
        text = content.text  # type: ignore[union-attr]
        assert text.startswith("# ")
        assert len(text.splitlines()) > 30, f"{uri} is too thin"
        assert content.mime_type == "text/markdown"


async def test_tools_named_in_guidance_exist_or_are_planned(client: Client) -> None:
    registered = {tool.name for tool in (await client.list_tools()).tools}
    assert not registered & PLANNED_TOOLS, "a planned tool landed: remove it from PLANNED_TOOLS"
    mentioned: dict[str, set[str]] = {}
    for doc in all_guidance():
        for name in TOOL_REFERENCE.findall(doc.text):
            mentioned.setdefault(name, set()).add(doc.topic)
    for name in workflow_tool_names():
        mentioned.setdefault(name, set()).add("get_started.yaml")
    unknown = {
        name: topics for name, topics in mentioned.items() if name not in registered | PLANNED_TOOLS
    }
    assert unknown == {}
    assert "get_started" in mentioned


def test_descriptions_are_short_summaries() -> None:
    for doc in all_guidance():
        assert doc.title and doc.description, doc.topic
        assert len(doc.description) <= 300, doc.topic


def test_required_sections_are_present() -> None:
    cloud = resources.files("oumi_mcp_server.guidance").joinpath("cloud-launch.md").read_text()
    assert "Important: outputs on the cluster are ephemeral" in cloud
    assert "Important: submitting to an existing cluster uses `sky exec`" in cloud
    top = cloud[: len(cloud) // 3]
    assert "Version compatibility" in top, "the version note belongs near the top"
    assert "oumi env" in top and "==0.9" in top
    infer = resources.files("oumi_mcp_server.guidance").joinpath("mle-infer.md").read_text()
    assert '"role": "assistant"' in infer
    evaluate = resources.files("oumi_mcp_server.guidance").joinpath("mle-eval.md").read_text()
    assert "lm_eval" in evaluate or "lm-evaluation-harness" in evaluate
