"""The generated output schemas (server/output_schemas.json) agree with the models."""

from __future__ import annotations

from pydantic import BaseModel

from oumi_mcp_server.server.app import OumiMcpServer, build_server
from oumi_mcp_server.server.output_schemas import answer_model_of, published_schemas
from oumi_mcp_server.settings import Settings

REGENERATE = "regenerate it: make output-schemas"


def _tools(server: OumiMcpServer) -> dict[str, object]:
    return {tool.name: tool for tool in server._tool_manager.list_tools()}


def test_published_schemas_equal_the_derived_ones(settings: Settings) -> None:
    published = _tools(build_server(settings))
    derived = _tools(build_server(settings, derive_output_schemas=True))
    assert published.keys() == derived.keys()
    for name, tool in published.items():
        fresh = derived[name]
        assert tool.fn_metadata.output_schema == fresh.fn_metadata.output_schema, (  # type: ignore[attr-defined]
            f"{name}: output_schemas.json is stale; {REGENERATE}"
        )
        assert tool.fn_metadata.output_model is fresh.fn_metadata.output_model, name  # type: ignore[attr-defined]
        assert tool.fn_metadata.wrap_output == fresh.fn_metadata.wrap_output, name  # type: ignore[attr-defined]
        assert tool.parameters == fresh.parameters, name  # type: ignore[attr-defined]


def test_every_tool_with_an_answer_model_is_in_the_file(settings: Settings) -> None:
    missing = [
        tool.name
        for tool in build_server(settings)._tool_manager.list_tools()
        if answer_model_of(tool.fn) is not None and tool.name not in published_schemas()
    ]
    assert not missing, f"no published schema for {missing}; {REGENERATE}"


def test_published_tools_still_check_their_answers(settings: Settings) -> None:
    for tool in build_server(settings)._tool_manager.list_tools():
        model = tool.fn_metadata.output_model
        assert isinstance(model, type) and issubclass(model, BaseModel), tool.name


class _Answer(BaseModel):
    text: str


def test_a_tool_missing_from_the_file_is_derived(settings: Settings) -> None:
    server = build_server(settings)

    @server.tool(name="not_in_the_file")
    def echo(text: str) -> _Answer:
        return _Answer(text=text)

    tool = server._tool_manager.get_tool("not_in_the_file")
    assert tool is not None
    assert tool.fn_metadata.output_schema is not None
    assert tool.fn_metadata.output_schema["properties"]["text"]["type"] == "string"
    assert tool.fn_metadata.output_model is _Answer
