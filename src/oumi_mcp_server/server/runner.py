"""Run the server over stdio (protocol on private descriptors) or streamable HTTP."""

from __future__ import annotations

import io
import logging

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from oumi_mcp_server.environment.versions import loaded_heavy_modules
from oumi_mcp_server.protocol_stdio import ProtocolStreams
from oumi_mcp_server.server.http import HttpAccess, exposure_warning, http_app

logger = logging.getLogger(__name__)


async def _serve_streams(server: MCPServer, streams: ProtocolStreams) -> None:
    stdin = anyio.wrap_file(io.TextIOWrapper(streams.reader, encoding="utf-8", errors="replace"))
    stdout = anyio.wrap_file(io.TextIOWrapper(streams.writer, encoding="utf-8", write_through=True))
    # The SDK's own stdio entry point would claim fd 0/1 itself; ours are
    # already claimed (see protocol_stdio), so we hand it the private streams.
    lowlevel = server._lowlevel_server
    async with stdio_server(stdin=stdin, stdout=stdout) as (read_stream, write_stream):
        await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())


def run_stdio(server: MCPServer, streams: ProtocolStreams) -> None:
    logger.info(
        "Serving MCP over stdio; heavy modules loaded: %s", loaded_heavy_modules() or "none"
    )
    anyio.run(_serve_streams, server, streams)


def run_http(server: MCPServer, *, host: str, port: int, access: HttpAccess) -> None:
    import uvicorn

    warning = exposure_warning(host, access)
    if warning:
        logger.warning(warning)
    if access.token is None:
        logger.warning("HTTP without a token (--no-auth): only for this machine's own clients.")
    logger.info("Serving MCP over streamable HTTP on http://%s:%d/mcp", host, port)
    config = uvicorn.Config(
        http_app(server, host, access), host=host, port=port, log_level="warning"
    )
    anyio.run(uvicorn.Server(config).serve)
