"""validate_config and pre_flight_check: will this config work, before a GPU is paid for?"""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.preflight.models import PreflightReport
from oumi_mcp_server.server.annotations import read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services
from oumi_mcp_server.validation.service import ValidationReport

ConfigArg = Annotated[
    str,
    Field(description="The user's config file: absolute, or relative to client_cwd."),
]
ClientCwdArg = Annotated[
    str,
    Field(
        description="Absolute path of the user's project directory; relative paths resolve here."
    ),
]


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("Validate config"),
        description=(
            "Validate an Oumi YAML config with Oumi's own config classes (training, evaluation, "
            "inference, job, synthesis, analyze, judge, quantization, tuning, async evaluation). "
            "Reports each problem with its dotted field path and a hint; unknown keys get a "
            "'did you mean'. The first call loads oumi (several seconds)."
        ),
    )
    async def validate_config(
        config: ConfigArg,
        client_cwd: ClientCwdArg,
        task_type: Annotated[
            str,
            Field(description="Config kind, or 'auto' to infer it from keys and file name."),
        ] = "auto",
    ) -> ValidationReport:
        with reported_as_tool_errors("validate_config"):
            return await services.validation.validate(config, client_cwd, task_type)

    @server.tool(
        annotations=read_only("Pre-flight check", open_world=True),
        description=(
            "Check everything a run needs before it is launched: the config itself, every path "
            "resolved against client_cwd (for cloud runs: synced, excluded by .skyignore, or not "
            "reachable on the VM), Hugging Face access, local hardware, cloud readiness and "
            "credentials that would stay behind. 'blocking' is true when the run would fail."
        ),
    )
    async def pre_flight_check(
        config: ConfigArg,
        client_cwd: ClientCwdArg,
        cloud: Annotated[
            str,
            Field(
                description="Where it will run: '' or 'local' for this machine, or a cloud "
                "(gcp, aws, azure, lambda, runpod, kubernetes, slurm, ...). Job configs "
                "default to their resources.cloud."
            ),
        ] = "",
        cluster_name: Annotated[
            str,
            Field(
                description="For cloud 'slurm': the cluster as user@host (as in "
                "OUMI_SLURM_CONNECTIONS). Checks ssh access, the Slurm commands, accounting, "
                "~/oumi_slurm_logs and the partition and GPUs the job asks for."
            ),
        ] = "",
    ) -> PreflightReport:
        with reported_as_tool_errors("pre_flight_check"):
            report = await services.preflight.check(config, client_cwd, cloud, cluster=cluster_name)
            if report.kind != "job":
                return report
            jobs = await services.job_service()
            try:
                cost = await jobs.quote_config(config, client_cwd, cloud)
            except OumiMcpError:  # the report stands without a price
                return report
            return report.model_copy(update={"cost": cost})
