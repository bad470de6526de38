"""Run the server over stdio (protocol on private descriptors) or streamable HTTP."""

from __future__ import annotations

import io
import logging
import os
import signal
from collections.abc import Awaitable, Callable

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.stdio import stdio_server

from oumi_mcp_server.environment.versions import loaded_heavy_modules
from oumi_mcp_server.protocol_stdio import ProtocolStreams
from oumi_mcp_server.server.http import HttpAccess, exposure_warning, http_app
from oumi_mcp_server.server.stdio_guard import AnsweringReader, LineWriter

logger = logging.getLogger(__name__)


SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


async def _serve_streams(server: MCPServer, streams: ProtocolStreams) -> int | None:
    source = io.TextIOWrapper(streams.reader, encoding="utf-8", errors="replace")
    sink = anyio.wrap_file(io.TextIOWrapper(streams.writer, encoding="utf-8", write_through=True))
    writer = LineWriter(sink)
    reader = AnsweringReader(source, writer)
    # The SDK's own stdio entry point would claim fd 0/1 itself; ours are
    # already claimed (see protocol_stdio), so we hand it the private streams,
    # behind a reader that answers the lines it would drop (stdio_guard.py).
    lowlevel = server._lowlevel_server

    async def serve() -> None:
        async with stdio_server(stdin=reader, stdout=writer) as (read_stream, write_stream):  # type: ignore[arg-type]
            await lowlevel.run(read_stream, write_stream, lowlevel.create_initialization_options())

    # The transport is inside what a signal cancels: its reader and writer stop too.
    return await _until_signal(serve)


async def _until_signal(serve: Callable[[], Awaitable[object]]) -> int | None:
    """Serve until the client goes away or SIGINT, SIGTERM or SIGHUP arrives; either way
    the server's cleanup runs (jobs keep running: they are not ours to stop). The signal
    that ended it, if one did."""
    received_signal: list[int] = []
    async with anyio.create_task_group() as group:

        async def watch() -> None:
            with anyio.open_signal_receiver(*SHUTDOWN_SIGNALS) as received:
                async for signum in received:
                    logger.info("Received %s: shutting down", signal.Signals(signum).name)
                    received_signal.append(signum)
                    group.cancel_scope.cancel()
                    return

        async def run() -> None:
            await serve()
            group.cancel_scope.cancel()  # the client closed the stream

        group.start_soon(watch)
        group.start_soon(run)
    logger.info("Server stopped")
    return received_signal[0] if received_signal else None


def run_stdio(server: MCPServer, streams: ProtocolStreams) -> None:
    logger.info(
        "Serving MCP over stdio; heavy modules loaded: %s", loaded_heavy_modules() or "none"
    )
    if anyio.run(_serve_streams, server, streams) is not None:
        # Cleaned up; only the thread reading the silent client is left, and it
        # cannot be interrupted: leave without waiting for it.
        logging.shutdown()
        os._exit(0)


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
    serving = uvicorn.Server(config)
    # uvicorn shuts down cleanly on SIGINT and SIGTERM; SIGHUP would kill it outright.
    signal.signal(signal.SIGHUP, lambda _signum, frame: serving.handle_exit(signal.SIGTERM, frame))
    anyio.run(serving.serve)
