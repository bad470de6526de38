"""Resources: guidance documents and the server's own diagnostics."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceNotFoundError
from mcp.server.mcpserver.resources import FunctionResource

from oumi_mcp_server import __version__
from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.environment.versions import loaded_heavy_modules
from oumi_mcp_server.errors import NotFoundError
from oumi_mcp_server.guidance import TOPICS, read_guidance
from oumi_mcp_server.services import Services


def _guidance_reader(topic: str) -> Callable[[], str]:
    def read() -> str:
        return read_guidance(topic).text

    return read


def register(server: MCPServer, services: Services) -> None:
    for topic in TOPICS:
        doc = read_guidance(topic)
        server.add_resource(
            FunctionResource(
                uri=doc.uri,
                name=topic,
                title=doc.title,
                description=doc.description,
                mime_type="text/markdown",
                fn=_guidance_reader(topic),
            )
        )

    @server.resource(
        "guidance://{topic}",
        name="guidance",
        description=f"Workflow guidance by topic: {', '.join(TOPICS)}.",
        mime_type="text/markdown",
    )
    def guidance_by_topic(topic: str) -> str:
        try:
            return read_guidance(topic).text
        except NotFoundError as exc:
            raise ResourceNotFoundError(exc.describe()) from exc

    @server.resource(
        "server://info",
        name="server-info",
        title="Server diagnostics",
        description="Version, process id, uptime, state dirs, which heavy modules are loaded "
        "in this process, and the engine worker (pid, RSS, clients, uptime, last restart).",
        mime_type="application/json",
    )
    async def server_info() -> str:
        worker = await run_blocking(
            services.engines.describe_worker, timeout_s=10.0, what="Asking the engine worker"
        )
        return json.dumps(
            {
                "server_version": __version__,
                "pid": os.getpid(),
                "uptime_s": round(time.time() - services.started_at, 3),
                "heavy_modules_loaded": loaded_heavy_modules(),
                "engine_worker": worker,
                "oumi_warmup": services.warmup.state.model_dump(exclude_none=True),
                "listings_warmup": services.listings_warmup.model_dump(exclude_none=True),
                "state_dir": str(services.settings.state_dir),
                "cache_dir": str(services.settings.cache_dir),
            },
            indent=2,
        )
