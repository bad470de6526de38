"""search_configs, get_config, list_categories and get_started, through an MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from oumi_mcp_server.library.service import LibraryService
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import Settings
from tests.library_support import Offline, library_settings

pytestmark = pytest.mark.anyio


async def call(client: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def error_text(client: Client, tool: str, **arguments: Any) -> str:
    result = await client.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return str(result.content[0].text)  # type: ignore[union-attr]


def test_building_the_server_does_not_load_the_library(settings: Settings) -> None:
    services = Services.create(settings)
    build_server(services=services)
    assert not services.library.started


async def test_search_configs_returns_ranked_summaries(client: Client) -> None:
    found = await call(client, "search_configs", query="llama 3.1 8b lora", limit=3)
    assert found["terms"] == ["llama", "3.1", "8b", "lora"] and found["matched_all_terms"]
    assert found["returned"] == 3 and found["total_matches"] >= 5
    first = found["results"][0]
    assert first["path"] == "recipes/llama3_1/sft/8b_lora/train.yaml"
    assert (first["task"], first["peft"], first["model_family"], first["size"]) == (
        "sft",
        "lora",
        "llama3_1",
        "8b",
    )
    assert first["model"] == "meta-llama/Llama-3.1-8B-Instruct"
    assert first["datasets"] == ["yahma/alpaca-cleaned"] and first["description"]
    assert "get_config" in found["message"] and "525 configs" in found["library"]


async def test_search_configs_takes_lists_filters_and_keywords(client: Client) -> None:
    listed = await call(client, "search_configs", query=["llama", "3.1 8b", "lora"], limit=1)
    assert listed["results"][0]["path"] == "recipes/llama3_1/sft/8b_lora/train.yaml"
    dpo = await call(client, "search_configs", task="DPO", model="phi3", limit=100)
    assert dpo["results"] and all(r["task"] == "dpo" for r in dpo["results"])
    assert all(r["model_family"] == "phi3" for r in dpo["results"])
    fsdp = await call(client, "search_configs", query="llama", keyword=["fsdp", "lora"], limit=50)
    assert fsdp["results"] and any("fsdp" in r["path"] for r in fsdp["results"])
    assert "keyword='fsdp'" in fsdp["message"]


async def test_empty_search_is_an_explained_overview(client: Client) -> None:
    overview = await call(client, "search_configs")
    assert overview["returned"] == 20 and overview["total_matches"] == 525
    assert all(r["path"].startswith("recipes/") for r in overview["results"])
    assert "one training recipe per model family" in overview["message"]


async def test_a_search_matching_nothing_says_why(client: Client) -> None:
    closest = await call(client, "search_configs", query="gemma3 qlora")
    assert not closest["matched_all_terms"] and closest["results"]
    assert "No config matches all of 'gemma3', 'qlora'" in closest["message"]
    nothing = await call(client, "search_configs", query="zzqx", task="dpo")
    assert nothing["results"] == [] and "Nothing matches 'zzqx'" in nothing["message"]


@pytest.mark.parametrize("limit", [0, -1, 101, 1000])
async def test_limit_out_of_bounds_is_an_error_naming_the_field(client: Client, limit: int) -> None:
    text = await error_text(client, "search_configs", query="llama", limit=limit)
    assert "limit" in text


async def test_limit_bounds_are_inclusive(client: Client) -> None:
    assert (await call(client, "search_configs", limit=1))["returned"] == 1
    assert (await call(client, "search_configs", limit=100))["returned"] == 100


async def test_unknown_task_lists_the_valid_ones(client: Client) -> None:
    text = await error_text(client, "search_configs", task="teleport")
    assert "Invalid argument 'task'" in text and "grpo" in text


async def test_get_config_by_exact_and_partial_path(client: Client) -> None:
    exact = await call(
        client, "get_config", path="recipes/phi3/dpo/train.yaml", include_content=True
    )
    config = exact["config"]
    assert exact["found"] and exact["resolved_as"] == "exact"
    assert config["task"] == "dpo" and config["trainer_type"] == "TRL_DPO"
    assert 'trainer_type: "TRL_DPO"' in config["content"]
    assert "Never pass a library path" in config["usage"]
    partial = await call(client, "get_config", path="llama3_1/sft/8b_lora")
    assert partial["resolved_as"] == "directory" and partial["config"]["content"] is None
    assert partial["config"]["path"] == "recipes/llama3_1/sft/8b_lora/train.yaml"
    assert "recipes/llama3_1/sft/8b_lora/gcp_job.yaml" in partial["config"]["related"]


async def test_get_config_miss_and_ambiguity_suggest_paths(client: Client) -> None:
    miss = await call(client, "get_config", path="recipes/llama3_1/sft/8b_lorra/train.yaml")
    assert not miss["found"] and miss["resolved_as"] == "missing"
    assert miss["did_you_mean"][0]["path"] == "recipes/llama3_1/sft/8b_lora/train.yaml"
    assert "Did you mean" in miss["message"]
    ambiguous = await call(client, "get_config", path="8b_full")
    assert ambiguous["resolved_as"] == "ambiguous" and len(ambiguous["did_you_mean"]) >= 2
    assert "one of the paths in did_you_mean" in ambiguous["message"]
    assert "Invalid argument 'path'" in await error_text(client, "get_config", path="  ")
    for outside in ("../../../etc/passwd", "/etc/passwd"):
        escaped = await call(client, "get_config", path=outside, include_content=True)
        assert not escaped["found"] and escaped["config"] is None, "only indexed files are read"


async def test_get_config_description_warns_against_library_paths(client: Client) -> None:
    tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    description = tools["get_config"].description or ""
    assert "reference" in description and "never the library path" in description


async def test_list_categories_reports_source_counts_and_providers(client: Client) -> None:
    report = await call(client, "list_categories")
    library = report["library"]
    assert (library["state"], library["source"], library["count"]) == ("ready", "override", 525)
    assert report["categories"] == {"apis": 34, "examples": 52, "projects": 40, "recipes": 399}
    assert {"llama3_1", "qwen3", "phi4", "gemma3"} <= set(report["model_families"])
    assert {"openai", "anthropic", "gemini"} <= set(report["api_providers"])
    assert report["tasks"]["dpo"] >= 10 and report["config_classes"]["job"] >= 100
    assert report["skipped_files"] == []


async def test_get_started_reports_the_config_library(client: Client) -> None:
    await call(client, "list_categories")  # waits for the library (get_started waits 1 s only)
    report = await call(client, "get_started")
    library = report["config_library"]
    assert library["state"] == "ready" and library["source"] == "override"
    assert library["count"] == 525 and "OUMI_MCP_CONFIGS_DIR" in library["detail"]


@pytest.fixture
async def offline_client(tmp_path: Path) -> AsyncIterator[Client]:
    """A server with no library source at all: no override, empty cache, offline."""
    settings = library_settings(tmp_path)
    library = LibraryService(
        settings,
        oumi_version="0.9",
        providers=[Offline("PyPI sdist"), Offline("GitHub tag archive")],
        checkout_finder=lambda: None,
    )
    server = build_server(services=Services.create(settings, library=library))
    async with Client(server) as connected:
        yield connected


async def test_without_a_source_every_library_tool_says_so_and_how_to_fix(
    offline_client: Client,
) -> None:
    for tool, arguments in (
        ("search_configs", {"query": "llama"}),
        ("search_configs", {}),
        ("get_config", {"path": "recipes/phi3/dpo/train.yaml"}),
        ("list_categories", {}),
    ):
        text = await error_text(offline_client, tool, **arguments)
        assert "No config library source works" in text, tool
        assert "OUMI_MCP_CONFIGS_DIR" in text and "oumi-mcp-server sync-configs" in text, tool
    report = await call(offline_client, "get_started")
    assert report["config_library"]["state"] == "unavailable"
    assert any("Config library unavailable" in note for note in report["notes"])
