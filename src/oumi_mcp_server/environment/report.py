"""The check_environment report: engine versions, lazy-loading state, clouds."""

from __future__ import annotations

import platform

from pydantic import Field

from oumi_mcp_server import __version__
from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.environment.clouds import CloudChecker, CloudReadiness
from oumi_mcp_server.environment.versions import engine_versions, loaded_heavy_modules

SUPPORTED_OUMI_SERIES = "0.9"
FIRST_FASTAPI_BREAKING_SKYPILOT = (0, 145)


class EnvironmentReport(AnswerModel):
    server_version: str
    python_version: str
    platform: str
    engine_versions: dict[str, str | None] = Field(
        description="Installed versions of oumi and its engines (None: not installed)."
    )
    heavy_modules_loaded: list[str] = Field(
        description="Heavy modules already imported by the server (they load lazily)."
    )
    clouds: CloudReadiness | None = Field(
        default=None, description="SkyPilot's enabled clouds; present when check_clouds was set."
    )
    warnings: list[str]


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for piece in version.split("."):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return tuple(parts)


def environment_warnings(versions: dict[str, str | None]) -> list[str]:
    warnings: list[str] = []
    oumi = versions.get("oumi")
    if oumi is None:
        warnings.append("oumi is not installed: install oumi==0.9.* in the server's environment.")
    elif not (oumi == SUPPORTED_OUMI_SERIES or oumi.startswith(SUPPORTED_OUMI_SERIES + ".")):
        warnings.append(f"oumi {oumi} is installed; this server is built for oumi 0.9.*.")
    fastapi = versions.get("fastapi")
    if (
        versions.get("skypilot")
        and fastapi
        and (_version_tuple(fastapi) >= FIRST_FASTAPI_BREAKING_SKYPILOT)
    ):
        warnings.append(
            f"fastapi {fastapi} breaks SkyPilot's local API server; install 'fastapi<0.145'."
        )
    return warnings


async def build_environment_report(
    cloud_checker: CloudChecker, *, check_clouds: bool, refresh: bool
) -> EnvironmentReport:
    versions = engine_versions()
    clouds = await cloud_checker.check(refresh=refresh) if check_clouds else None
    return EnvironmentReport(
        server_version=__version__,
        python_version=platform.python_version(),
        platform=platform.platform(terse=True),
        engine_versions=versions,
        heavy_modules_loaded=loaded_heavy_modules(),
        clouds=clouds,
        warnings=environment_warnings(versions),
    )
