"""search_configs, get_config, list_categories: Oumi's config library, version-matched."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.library.models import CategoriesReport, ConfigLookup, SearchResult
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

Terms = str | list[str]


def register(server: MCPServer, services: Services) -> None:
    library = services.library

    @server.tool(
        annotations=read_only("Search configs"),
        description=(
            "Search Oumi's config library (the recipes matching the installed oumi version, "
            "available offline) and return ranked summaries: path, description, task, model, "
            "PEFT, datasets. Terms are ANDed, case-insensitive; folder names rank above file "
            "names above file content; exact model and size tokens rank high. An empty query "
            "gives an overview (one training recipe per model family first)."
        ),
    )
    async def search_configs(
        query: Annotated[
            Terms, Field(description="Words to find, e.g. 'llama 3.1 8b lora' or 'qwen3 grpo'.")
        ] = "",
        task: Annotated[
            str,
            Field(
                description="Only this task: sft, dpo, kto, grpo, gkd, pretrain, eval, infer, "
                "synth, judge, analyze, quantize, tune; or a class: training, job."
            ),
        ] = "",
        model: Annotated[
            str, Field(description="Only this model family or name, e.g. 'llama3_1', 'Qwen3-8B'.")
        ] = "",
        keyword: Annotated[
            Terms, Field(description="Text that must appear in the YAML, e.g. 'fsdp', 'vllm'.")
        ] = "",
        limit: Annotated[int, Field(description="Results to return (1-100).", ge=1, le=100)] = 20,
    ) -> SearchResult:
        with reported_as_tool_errors("search_configs"):
            return await library.search(query, task=task, model=model, keyword=keyword, limit=limit)

    @server.tool(
        annotations=read_only("Get config"),
        description=(
            "Read one config from the library by path (exact, or a unique part such as "
            "'llama3_1/sft/8b_lora'); on a miss or ambiguity, returns did-you-mean matches. "
            "The config is a reference: copy it into the user's project, adapt it there and "
            "pass the copy's path to path-sensitive tools (validate_config, pre_flight_check, "
            "run_oumi_job), never the library path."
        ),
    )
    async def get_config(
        path: Annotated[
            str, Field(description="Library path from search_configs, or a unique part of it.")
        ],
        include_content: Annotated[
            bool, Field(description="Also return the raw YAML text.")
        ] = False,
    ) -> ConfigLookup:
        with reported_as_tool_errors("get_config"):
            return await library.get_config(path, include_content=include_content)

    @server.tool(
        annotations=read_only("List config categories"),
        description=(
            "Summarise the config library: top-level categories with counts, config classes, "
            "tasks, model families, API providers (configs under apis/), and where the library "
            "comes from (source, oumi version, count)."
        ),
    )
    async def list_categories() -> CategoriesReport:
        with reported_as_tool_errors("list_categories"):
            return await library.categories()
