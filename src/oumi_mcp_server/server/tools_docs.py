"""get_docs, list_modules: the installed Oumi's API, from an index built once per version."""

from typing import Annotated, Literal

import pydantic_core
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from oumi_mcp_server.apidocs.answers import DocsAnswer, ModulesAnswer, PublishedDocsAnswer
from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

MAX_QUERIES = 20
MAX_QUERY_CHARS = 200
Query = Annotated[str, Field(max_length=MAX_QUERY_CHARS)]
Kind = Literal["", "class", "dataclass", "function", "method", "field", "registry"]


def register(server: MCPServer, services: Services) -> None:
    docs = services.docs

    @server.tool(
        annotations=read_only("Get Oumi API docs"),
        description=(
            "Look up the installed Oumi's API: config dataclasses and their fields (type, "
            "default, docstring), classes, functions and methods (signature, args, returns) and "
            "registered names (datasets, models, clouds, ...). Matches an exact qualified name "
            "(or its public re-export, e.g. 'oumi.core.configs.TrainingParams'), then an exact "
            "short name ('learning_rate', 'TrainingParams.learning_rate'), then ranked keywords "
            "('lora rank', 'gradient accumulation'); misses give did-you-mean names. Exact "
            "matches carry the whole docstring and a dataclass's fields; empty fields are left "
            "out. The index is built once per oumi version in a separate process; while it "
            "builds, the answer says so at once with an estimate (status 'building')."
        ),
    )
    async def get_docs(
        ctx: Context,
        query: Annotated[
            Query | list[Query],
            Field(description="A name or words, or a list of them (up to 20) answered together."),
        ],
        module: Annotated[
            str,
            Field(
                description="Only entries in this module or below, e.g. 'oumi.core.configs'.",
                max_length=MAX_QUERY_CHARS,
            ),
        ] = "",
        kind: Annotated[Kind, Field(description="Only this kind of entry.")] = "",
        limit: Annotated[int, Field(description="Hits per query (1-50).", ge=1, le=50)] = 10,
        rebuild: Annotated[
            bool, Field(description="Build the index again (after a failed build, or an upgrade).")
        ] = False,
    ) -> Annotated[CallToolResult, PublishedDocsAnswer]:
        with reported_as_tool_errors("get_docs"):
            queries = _queries(query)
            answer = docs.get_docs(
                queries, module=module.strip(), kind=kind, limit=limit, rebuild=rebuild
            )
            index = answer.index
            if answer.status == "building" and index is not None and index.modules_total:
                await ctx.report_progress(index.modules_done, index.modules_total, answer.message)
            return _result(answer)

    @server.tool(
        annotations=read_only("List Oumi modules"),
        description=(
            "List the modules of the installed Oumi in the API index, with each one's summary "
            "and how many entries get_docs has for it, and the modules that could not be "
            "imported here (and why)."
        ),
    )
    async def list_modules() -> ModulesAnswer:
        with reported_as_tool_errors("list_modules"):
            return docs.list_modules()


def _result(answer: DocsAnswer) -> CallToolResult:
    """The answer without its empty fields, as structured content and as compact JSON text
    (the same object): a smaller message to send, parse and check against the schema."""
    lean = answer.lean()
    text = pydantic_core.to_json(lean).decode()
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=lean)


def _queries(query: str | list[str]) -> list[str]:
    queries = [query] if isinstance(query, str) else list(query)
    queries = [item.strip() for item in queries if item.strip()]
    if not queries:
        raise InvalidArgumentError(
            "query",
            "it is empty.",
            next_step="Pass a name such as 'TrainingParams' or words such as 'learning rate'.",
        )
    if len(queries) > MAX_QUERIES:
        raise InvalidArgumentError(
            "query",
            f"{len(queries)} queries in one call; at most {MAX_QUERIES}.",
            next_step="Split them over several calls.",
        )
    return queries
