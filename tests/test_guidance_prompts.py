"""get_guidance and the workflow prompts, through the MCP client."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from mcp import Client
from mcp.types import PromptReference

from oumi_mcp_server.guidance import TOPICS
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings

pytestmark = pytest.mark.anyio


async def test_get_guidance_lists_every_topic(client: Client) -> None:
    result = await client.call_tool("get_guidance", {})
    answer = result.structured_content
    assert answer is not None and not result.is_error
    assert [item["topic"] for item in answer["topics"]] == list(TOPICS)
    assert all(
        item["description"] and item["uri"].startswith("guidance://") for item in answer["topics"]
    )


async def test_each_topic_is_the_resource_text(client: Client) -> None:
    for topic in TOPICS:
        answer = (await client.call_tool("get_guidance", {"topic": topic})).structured_content
        resource = await client.read_resource(f"guidance://{topic}")
        assert answer is not None
        assert answer["text"] == resource.contents[0].text  # type: ignore[union-attr]


async def test_an_unknown_topic_names_the_topics(client: Client) -> None:
    result = await client.call_tool("get_guidance", {"topic": "nope"})
    text = result.content[0].text  # type: ignore[union-attr]
    assert result.is_error
    assert "nope" in text and "mle-train" in text


async def test_prompts_are_listed_with_their_arguments(client: Client) -> None:
    prompts = {prompt.name: prompt for prompt in (await client.list_prompts()).prompts}
    assert set(prompts) == {"fine_tune", "evaluate_checkpoint", "debug_failed_job", "move_to_cloud"}
    fine_tune = {
        argument.name: argument.required for argument in prompts["fine_tune"].arguments or []
    }
    assert fine_tune == {"model": True, "dataset_path": True, "method": False}


async def test_prompts_render_with_arguments_and_name_real_tools(client: Client) -> None:
    tools = {tool.name for tool in (await client.list_tools()).tools}
    cases = {
        "fine_tune": {
            "model": "Qwen/Qwen3-0.6B",
            "dataset_path": "data/train.jsonl",
            "method": "qlora",
        },
        "evaluate_checkpoint": {"checkpoint_path": "out/ckpt", "tasks": "gsm8k"},
        "debug_failed_job": {"job_id": "train-42"},
        "move_to_cloud": {"config_path": "train.yaml", "cloud": "slurm", "cluster_name": "me@hpc"},
    }
    for name, arguments in cases.items():
        rendered = await client.get_prompt(name, arguments)
        text = rendered.messages[0].content.text  # type: ignore[union-attr]
        for value in arguments.values():
            assert value in text, (name, value)
        named = set(re.findall(r"\b[a-z]+_[a-z_]+\b", text)) & tools
        assert len(named) >= 3, (name, named)
    slurm = await client.get_prompt("move_to_cloud", cases["move_to_cloud"])
    assert "#SBATCH" in slurm.messages[0].content.text  # type: ignore[union-attr]


async def test_prompt_arguments_complete(client: Client) -> None:
    method = await client.complete(
        PromptReference(type="ref/prompt", name="fine_tune"), {"name": "method", "value": "q"}
    )
    assert method.completion.values == ["qlora"]
    clouds = await client.complete(
        PromptReference(type="ref/prompt", name="move_to_cloud"), {"name": "cloud", "value": ""}
    )
    assert "slurm" in clouds.completion.values and "gcp" in clouds.completion.values
    none = await client.complete(
        PromptReference(type="ref/prompt", name="debug_failed_job"),
        {"name": "job_id", "value": "x"},
    )
    assert none.completion.values == []


async def test_read_only_prompts_say_the_mutating_tools_are_not_there(settings: Settings) -> None:
    async with Client(build_server(replace(settings, read_only=True))) as connected:
        listed = {tool.name for tool in (await connected.list_tools()).tools}
        rendered = await connected.get_prompt("debug_failed_job", {"job_id": "train-42"})
    text = rendered.messages[0].content.text  # type: ignore[union-attr]
    assert "run_oumi_job" not in listed
    assert "runs read-only" in text and "exact command to run myself" in text


async def test_prompts_of_a_full_server_have_no_read_only_note(client: Client) -> None:
    rendered = await client.get_prompt("debug_failed_job", {"job_id": "train-42"})
    assert "read-only" not in rendered.messages[0].content.text  # type: ignore[union-attr]
