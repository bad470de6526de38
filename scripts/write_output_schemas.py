"""Regenerate src/oumi_mcp_server/server/output_schemas.json from the answer models,
the way the SDK derives them (run after changing a tool's answer model)."""

from __future__ import annotations

from pathlib import Path

from oumi_mcp_server.server import output_schemas
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings


def main() -> None:
    server = build_server(Settings.from_env(), derive_output_schemas=True)
    schemas = {
        tool.name: tool.fn_metadata.output_schema
        for tool in server._tool_manager.list_tools()
        if tool.fn_metadata.output_schema is not None
        and output_schemas.answer_model_of(tool.fn) is not None
    }
    print(output_schemas.write_schemas(schemas, Path(output_schemas.__file__).parent))


if __name__ == "__main__":
    main()
