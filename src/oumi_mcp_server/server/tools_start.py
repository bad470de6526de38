"""get_started: the entry point an assistant calls first."""

from mcp.server.mcpserver import MCPServer

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.environment.engines_in_use import read_engines_in_use
from oumi_mcp_server.onboarding import GetStartedReport, ToolSummary, build_get_started
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

# get_started waits this long for the library to be ready before reporting its state.
LIBRARY_STATUS_WAIT_S = 1.0
ENGINES_READ_TIMEOUT_S = 5.0  # SkyPilot's state file and the environment: local reads


def _first_sentence(text: str | None) -> str:
    text = (text or "").strip().replace("\n", " ")
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("Get started"),
        description=(
            "Call this first. Returns the tool catalog, the recommended workflow "
            "(search -> get_config -> write own config -> validate -> pre-flight -> dry run -> "
            "run -> status/logs -> stop/down), the client_cwd path rules, the installed Oumi "
            "version, the config library's source, version and size, where jobs can run "
            "(engines in use, and the next step for those not configured), and the guidance "
            "resources to read."
        ),
    )
    async def get_started() -> GetStartedReport:
        with reported_as_tool_errors("get_started"):
            tools = [
                ToolSummary(
                    name=tool.name,
                    title=(tool.annotations.title if tool.annotations else None) or tool.name,
                    summary=_first_sentence(tool.description),
                    read_only=bool(tool.annotations and tool.annotations.read_only_hint),
                    destructive=bool(tool.annotations and tool.annotations.destructive_hint),
                )
                for tool in await server.list_tools()
            ]
            library = await services.library.status(wait_s=LIBRARY_STATUS_WAIT_S)
            engines = await run_blocking(
                lambda: read_engines_in_use(services.settings.skypilot_dir),
                timeout_s=ENGINES_READ_TIMEOUT_S,
                what="Reading which engines are configured",
            )
            return build_get_started(tools, config_library=library, engines=engines)
