"""stop_cluster and down_cluster: stop paying for cloud clusters."""

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.launcher.clusters import ClusterActionResult
from oumi_mcp_server.server.annotations import mutating
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

CloudArg = Annotated[
    str, Field(description="The cloud oumi.launcher uses: gcp, aws, azure, lambda, runpod, ...")
]
ClusterArg = Annotated[str, Field(description="The cluster's name (list_jobs shows it).")]


def register(server: MCPServer, services: Services) -> None:
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
            "everything on its disk is lost. Destructive: without confirm=true and the cluster "
            "name typed again in confirm_cluster_name, nothing is done and the answer says what "
            "would be lost. Copy outputs out first."
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
    ) -> ClusterActionResult:
        with reported_as_tool_errors("down_cluster"):
            return await services.clusters.down(
                cloud, cluster_name, confirm=confirm, confirm_cluster_name=confirm_cluster_name
            )
