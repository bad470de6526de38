"""get_job_metrics: a run's metric series, summary and loss-curve chart (an image)."""

from __future__ import annotations

import base64
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, ImageContent, TextContent
from pydantic import Field

from oumi_mcp_server.jobs.catalog import MAX_METRICS
from oumi_mcp_server.jobs.models import JobMetricsReport
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("Job metrics and loss curve"),
        description=(
            "A job's training metrics as Oumi logs them (metrics_rank*.jsonl in the output dir, "
            "else trainer_state.json, else the loss lines of its log; cloud jobs: their log): "
            "series of (step, value) per metric, a summary (first/last/min loss, steps/s, "
            "tokens/s, ETA from max_steps, a plain note such as 'loss flat for the last 40% of "
            "steps' or 'loss is NaN since step 120') and a PNG line chart (smoothed line and raw "
            "points) attached as image content: show it to the user. Works while the job runs "
            "(a partial curve) and after; when nothing was logged it says where it looked."
        ),
    )
    async def get_job_metrics(
        job_id: Annotated[
            str, Field(description="The job id returned by run_oumi_job or list_jobs.")
        ],
        metrics: Annotated[
            list[str],
            Field(
                description="Metrics to return and plot, e.g. ['loss', 'grad_norm', "
                f"'learning_rate'] (at most {MAX_METRICS}); the answer lists those available.",
                max_length=MAX_METRICS,
            ),
        ] = ["loss"],  # noqa: B006 (pydantic copies defaults)
        last_n: Annotated[
            int, Field(description="The last N points of each series (0: all).", ge=0)
        ] = 0,
        chart: Annotated[bool, Field(description="Attach the PNG chart.")] = True,
    ) -> Annotated[CallToolResult, JobMetricsReport]:
        with reported_as_tool_errors("get_job_metrics"):
            jobs = await services.job_service()
            report, png = await jobs.metrics(job_id, metrics, last_n=last_n, chart=chart)
            content: list[TextContent | ImageContent] = [
                TextContent(type="text", text=report.model_dump_json())
            ]
            if png is not None:
                image = base64.b64encode(png).decode("ascii")
                content.append(ImageContent(type="image", data=image, mime_type="image/png"))
            return CallToolResult(
                content=list(content), structured_content=report.model_dump(mode="json")
            )
