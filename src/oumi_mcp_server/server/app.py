"""Build the MCP server: one place where tools and resources are registered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib import resources as package_files
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.subscriptions import InMemorySubscriptionBus
from mcp.types import Icon, ToolAnnotations

from oumi_mcp_server import __version__
from oumi_mcp_server.server import (
    prompts,
    resources,
    resources_jobs,
    tools_clusters,
    tools_diagnosis,
    tools_docs,
    tools_environment,
    tools_guidance,
    tools_jobs,
    tools_library,
    tools_metrics,
    tools_start,
    tools_validation,
)
from oumi_mcp_server.server.arguments import CheckToolArguments
from oumi_mcp_server.server.auditing import AuditMutatingCalls
from oumi_mcp_server.server.output_schemas import answer_model_of, attach, published_schemas
from oumi_mcp_server.server.progress import (
    ReportCallProgress,
    install_warning_capture,
    register_set_level,
)
from oumi_mcp_server.server.subscriptions import JobSubscriptions
from oumi_mcp_server.server.warmup import WarmupAfterHandshake
from oumi_mcp_server.services import Services
from oumi_mcp_server.settings import BACKGROUND_START_DELAY_S, Settings

SERVER_NAME = "oumi-mcp-server"


def _instructions() -> str:
    return (
        package_files.files("oumi_mcp_server.guidance")
        .joinpath("instructions.md")
        .read_text("utf-8")
        .strip()
    )


logger = logging.getLogger(__name__)
CLOSE_WITHIN_S = 0.8


def _lifespan(
    services: Services, subscriptions: JobSubscriptions
) -> Callable[[MCPServer], AbstractAsyncContextManager[Any]]:
    """Once serving starts (and the handshake has had its moment), prepare the config
    library and the API index in background threads; reconcile process jobs left by
    earlier server processes and sweep stale job runtimes periodically."""

    def start_in_background() -> None:
        services.library.start(eager=False)
        services.docs.start()

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[dict[str, Any]]:
        # After the handshake, not during it: the client's first requests come first.
        later = asyncio.get_running_loop().call_later(BACKGROUND_START_DELAY_S, start_in_background)
        services.start_jobs()
        try:
            yield {}
        finally:
            later.cancel()
            # Shielded, and bounded: a shutdown by signal still cleans up, within a second.
            with anyio.move_on_after(CLOSE_WITHIN_S, shield=True):
                await subscriptions.close()
                await services.close_jobs()
            services.library.close()
            services.docs.close()
            services.engines.close()
            logger.info("Cleaned up: job runtimes released (jobs keep running)")

    return lifespan


class OumiMcpServer(MCPServer):
    """The SDK's server, plus the job subscriptions it serves (for their watcher), and
    tools that publish their generated output schemas instead of deriving them."""

    job_subscriptions: JobSubscriptions
    derive_output_schemas: bool = False

    def add_tool(
        self,
        fn: Callable[..., Any],
        name: str | None = None,
        title: str | None = None,
        description: str | None = None,
        annotations: ToolAnnotations | None = None,
        icons: list[Icon] | None = None,
        meta: dict[str, Any] | None = None,
        structured_output: bool | None = None,
    ) -> None:
        tool_name = name or fn.__name__
        schema = None if self.derive_output_schemas else published_schemas().get(tool_name)
        model = answer_model_of(fn) if schema is not None and structured_output is None else None
        super().add_tool(
            fn,
            name=name,
            title=title,
            description=description,
            annotations=annotations,
            icons=icons,
            meta=meta,
            structured_output=False if model is not None else structured_output,
        )
        if model is not None and schema is not None:
            tool = self._tool_manager.get_tool(tool_name)
            assert tool is not None
            attach(tool.fn_metadata, model, schema)


def build_server(
    settings: Settings | None = None,
    *,
    services: Services | None = None,
    transport: str = "in-process",
    derive_output_schemas: bool = False,
) -> OumiMcpServer:
    """Create a server with every tool and resource registered (in read-only mode, only
    the tools that change nothing). ``transport`` is what the audit log records;
    ``derive_output_schemas`` derives every output schema from its model instead of
    publishing the generated file (what regenerates the file and what checks it)."""
    services = services or Services.create(settings or Settings.from_env())
    bus = InMemorySubscriptionBus()
    subscriptions = JobSubscriptions(services, bus, services.settings.watch_interval_s)
    server = OumiMcpServer(
        name=SERVER_NAME,
        version=__version__,
        instructions=_instructions(),
        log_level=services.settings.log_level,  # type: ignore[arg-type]
        lifespan=_lifespan(services, subscriptions),
        subscriptions=bus,
    )
    server.derive_output_schemas = derive_output_schemas
    tools_start.register(server, services)
    tools_environment.register(server, services)
    tools_library.register(server, services)
    tools_validation.register(server, services)
    tools_jobs.register(server, services)
    tools_metrics.register(server, services)
    tools_diagnosis.register(server, services)
    tools_clusters.register(server, services)
    tools_docs.register(server, services)
    tools_guidance.register(server, services)
    prompts.register(server, services)
    resources.register(server, services)
    resources_jobs.register(server, services)
    subscriptions.register(server._lowlevel_server)
    register_set_level(server._lowlevel_server)
    install_warning_capture()
    server.job_subscriptions = subscriptions
    if services.settings.read_only:
        _remove_mutating_tools(server)
    # Outermost of ours: what the others log during a call reaches the client too.
    server.middleware.append(ReportCallProgress())
    server.middleware.append(AuditMutatingCalls(server, services.settings.state_dir, transport))
    server.middleware.append(CheckToolArguments(server))
    server.middleware.append(WarmupAfterHandshake(services.start_warmup))
    return server


def _remove_mutating_tools(server: MCPServer) -> None:
    """Read-only mode: nothing that starts, cancels or deletes is even listed."""
    for tool in server._tool_manager.list_tools():
        if tool.annotations is None or not tool.annotations.read_only_hint:
            server.remove_tool(tool.name)
