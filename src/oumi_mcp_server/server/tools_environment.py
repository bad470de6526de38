"""check_environment: installed engines and, on request, enabled clouds."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.environment.report import EnvironmentReport, build_environment_report
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("Check environment", open_world=True),
        description=(
            "Report the installed oumi, SkyPilot, torch and related versions and which heavy "
            "engines are loaded. With check_clouds=true, also ask SkyPilot which clouds have "
            "working credentials (runs `sky check`; slow the first time, then cached for 5 min)."
        ),
    )
    async def check_environment(
        check_clouds: Annotated[
            bool, Field(description="Also run SkyPilot's cloud check (slow on first use).")
        ] = False,
        refresh: Annotated[
            bool, Field(description="Ignore the cached cloud check and run it again.")
        ] = False,
    ) -> EnvironmentReport:
        with reported_as_tool_errors("check_environment"):
            return await build_environment_report(
                services.cloud_checker, check_clouds=check_clouds, refresh=refresh
            )
