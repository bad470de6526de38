"""The SDK floor: the smallest MCP server the SDK makes (one tool, stdio), for start-up.

bench/startup.py --floor spawns it interleaved with ours: what start-up costs
beyond this is ours (our imports, schemas, settings), the rest is Python and the SDK.
"""

from __future__ import annotations

from mcp.server.mcpserver import MCPServer

server = MCPServer("floor")


@server.tool()
def ping(text: str = "") -> str:
    """Answer with the text given."""
    return text


if __name__ == "__main__":
    server.run()
