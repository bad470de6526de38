"""The get_started report: what this server can do and how to use it well."""

from __future__ import annotations

import platform
from functools import cache
from importlib import resources
from typing import Any

from pydantic import Field

from oumi_mcp_server import __version__
from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.environment.engines_in_use import EngineUse
from oumi_mcp_server.environment.versions import installed_version
from oumi_mcp_server.guidance import all_guidance
from oumi_mcp_server.library.models import LibraryStatus


class ToolSummary(AnswerModel):
    name: str
    title: str
    summary: str = Field(description="First sentence of the tool's description.")
    read_only: bool
    destructive: bool


class WorkflowStep(AnswerModel):
    step: int
    action: str
    tools: list[str]
    available: bool = Field(
        description="False while a tool of this step is not in this server yet."
    )


class GuidanceEntry(AnswerModel):
    uri: str
    title: str
    description: str


class GetStartedReport(AnswerModel):
    summary: str
    server_version: str
    oumi_version: str | None = Field(description="Installed oumi version (None: oumi is missing).")
    python_version: str
    tools: list[ToolSummary]
    workflow: list[WorkflowStep]
    path_rules: list[str]
    guidance: list[GuidanceEntry]
    config_library: LibraryStatus | None = Field(
        default=None,
        description="Where search_configs/get_config read recipes from: source, version, count.",
    )
    engines: list[EngineUse] = Field(
        default_factory=list,
        description="Where jobs can run: each engine in use, or not configured with the next "
        "step to use it.",
    )
    notes: list[str]


@cache
def _onboarding_data() -> dict[str, Any]:
    import yaml

    text = (
        resources.files("oumi_mcp_server.guidance").joinpath("get_started.yaml").read_text("utf-8")
    )
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def workflow_tool_names() -> set[str]:
    """Every tool name the workflow mentions."""
    return {name for step in _onboarding_data()["workflow"] for name in step["tools"]}


def build_get_started(
    tools: list[ToolSummary],
    *,
    config_library: LibraryStatus | None = None,
    engines: list[EngineUse] | None = None,
) -> GetStartedReport:
    data = _onboarding_data()
    registered = {tool.name for tool in tools}
    oumi_version = installed_version("oumi")
    notes = list(data["notes"])
    if oumi_version is None:
        notes.insert(0, "oumi is not installed in the server's environment: install oumi==0.9.*.")
    if config_library is not None and config_library.state != "ready":
        notes.insert(0, f"Config library {config_library.state}: {config_library.detail}")
    return GetStartedReport(
        summary=data["summary"],
        server_version=__version__,
        oumi_version=oumi_version,
        python_version=platform.python_version(),
        tools=tools,
        workflow=[
            WorkflowStep(
                step=index,
                action=step["action"],
                tools=step["tools"],
                available=all(name in registered for name in step["tools"]),
            )
            for index, step in enumerate(data["workflow"], start=1)
        ],
        path_rules=data["path_rules"],
        guidance=[
            GuidanceEntry(uri=doc.uri, title=doc.title, description=doc.description)
            for doc in all_guidance()
        ],
        config_library=config_library,
        engines=engines or [],
        notes=notes,
    )
