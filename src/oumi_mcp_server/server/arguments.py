"""Reject tool arguments the tool does not take.

The SDK ignores unknown arguments, so a typo such as ``dryrun=false`` would
silently fall back to a default. This middleware answers with an error that
names the unknown argument and lists the ones the tool accepts.
"""

from __future__ import annotations

import difflib
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent


class RejectUnknownArguments:
    def __init__(self, server: MCPServer) -> None:
        self._server = server
        self._accepted: dict[str, list[str]] | None = None

    async def _accepted_arguments(self) -> dict[str, list[str]]:
        if self._accepted is None:
            self._accepted = {
                tool.name: sorted((tool.input_schema or {}).get("properties", {}))
                for tool in await self._server.list_tools()
            }
        return self._accepted

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = ctx.params if isinstance(ctx.params, dict) else None
        if ctx.method == "tools/call" and params is not None:
            name = params.get("name")
            arguments = params.get("arguments") or {}
            accepted = (await self._accepted_arguments()).get(str(name))
            if accepted is not None and isinstance(arguments, dict):
                unknown = sorted(set(arguments) - set(accepted))
                if unknown:
                    return _unknown_arguments_result(str(name), unknown, accepted)
        return await call_next(ctx)


def _unknown_arguments_result(tool: str, unknown: list[str], accepted: list[str]) -> CallToolResult:
    hints = []
    for argument in unknown:
        close = difflib.get_close_matches(argument, accepted, n=1)
        hints.append(f"'{argument}' (did you mean '{close[0]}'?)" if close else f"'{argument}'")
    expected = ", ".join(accepted) if accepted else "no arguments"
    text = (
        f"Invalid arguments for {tool}: unknown argument {', '.join(hints)}.\n"
        f"Next step: call {tool} again with only these arguments: {expected}."
    )
    return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
