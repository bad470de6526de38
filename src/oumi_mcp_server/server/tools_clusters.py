"""list_clusters, stop_cluster and down_cluster: see what clusters cost, stop paying."""

from typing import Annotated, Any

from mcp import types
from mcp.server.mcpserver import Context, MCPServer
from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.jobs.cluster_list import ClusterList
from oumi_mcp_server.jobs.launcher.clusters import DOWN_EFFECT, ClusterActionResult
from oumi_mcp_server.server.annotations import mutating, read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

CloudArg = Annotated[
    str, Field(description="The cloud oumi.launcher uses: gcp, aws, azure, lambda, runpod, ...")
]
ClusterArg = Annotated[str, Field(description="The cluster's name (list_jobs shows it).")]


class DownConfirmation(AnswerModel):
    cluster_name: str = Field(description="Type the cluster's name to delete it.")


async def confirmed_by_user(ctx: Context[Any], cloud: str, cluster_name: str) -> bool | None:
    """Ask the user through MCP elicitation; None when the client cannot be asked."""
    wanted = types.ClientCapabilities(elicitation=types.ElicitationCapability())
    if not (ctx.session.check_client_capability(wanted) and ctx.session.can_send_request):
        return None
    answer = await ctx.elicit(
        f"Delete cluster {cluster_name} on {cloud}? {DOWN_EFFECT}", DownConfirmation
    )
    return answer.action == "accept" and answer.data.cluster_name.strip() == cluster_name.strip()


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("List clusters", open_world=True),
        description=(
            "The clusters oumi.launcher's clouds list (SkyPilot clouds: clusters that are up; "
            "Slurm: the configured clusters; oumi's local cloud), each with its jobs running, "
            "its price per hour (the cloud's own, else this server's quote at launch), how long "
            "it has had no running job and what that idle time cost, and whether this server "
            "launched it. A cluster that bills until stopped and has idled 30 min is flagged "
            "first, with the stop_cluster call to end it. Asks the same clouds as list_jobs "
            "(from the same short cache); a cloud that does not answer is a warning."
        ),
    )
    async def list_clusters(
        cloud: Annotated[
            str,
            Field(
                description="Only this oumi.launcher cloud (asked even before `sky check` "
                "enabled it); '' for every cloud list_jobs asks."
            ),
        ] = "",
    ) -> ClusterList:
        with reported_as_tool_errors("list_clusters"):
            jobs = await services.job_service()
            return await jobs.list_clusters(cloud)

    @server.tool(
        annotations=mutating("Stop cluster", destructive=False, idempotent=True, open_world=True),
        description=(
            "Stop a cloud cluster through oumi.launcher: compute billing stops, the disk is "
            "kept (storage may still bill), and it can be restarted by launching on the same "
            "cluster name. Running jobs on it end."
        ),
    )
    async def stop_cluster(cloud: CloudArg, cluster_name: ClusterArg) -> ClusterActionResult:
        with reported_as_tool_errors("stop_cluster"):
            return await services.clusters.stop(cloud, cluster_name)

    @server.tool(
        annotations=mutating("Delete cluster", destructive=True, idempotent=True, open_world=True),
        description=(
            "Delete (tear down) a cloud cluster through oumi.launcher: all its billing stops and "
            "everything on its disk is lost. Destructive: it needs confirm=true and the cluster "
            "name typed again in confirm_cluster_name, or, where the client supports it, the "
            "user typing the name in a confirmation prompt; otherwise nothing is done and the "
            "answer says what would be lost. Copy outputs out first."
        ),
    )
    async def down_cluster(
        cloud: CloudArg,
        cluster_name: ClusterArg,
        confirm: Annotated[
            bool, Field(description="True only after the user agreed to delete the cluster.")
        ] = False,
        confirm_cluster_name: Annotated[
            str, Field(description="The cluster name typed again, as a second confirmation.")
        ] = "",
        ctx: Context[Any] | None = None,
    ) -> ClusterActionResult:
        with reported_as_tool_errors("down_cluster"):
            confirmed = confirm and confirm_cluster_name.strip() == cluster_name.strip()
            if not confirmed and ctx and await confirmed_by_user(ctx, cloud, cluster_name):
                confirm, confirm_cluster_name = True, cluster_name
            return await services.clusters.down(
                cloud, cluster_name, confirm=confirm, confirm_cluster_name=confirm_cluster_name
            )
