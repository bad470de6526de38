"""stop_cluster and down_cluster: stop paying for a cluster, through oumi.launcher.

Down is destructive (the cluster and its disk are deleted), so it needs an
explicit confirmation: confirm=True and the cluster name typed again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.naming import check_cluster_name
from oumi_mcp_server.masking import shown

if TYPE_CHECKING:
    from oumi_mcp_server.jobs.launcher.engine import LauncherEngine

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
STOP_EFFECT = (
    "Compute billing stops; the disk is kept (and may still bill for storage). "
    "Restart by launching on the same cluster name."
)
DOWN_EFFECT = (
    "The cluster is deleted: all billing for it stops, and everything on its disk "
    "(checkpoints, outputs, logs not copied out) is lost for good."
)


class ClusterActionResult(AnswerModel):
    cloud: str
    cluster_name: str
    action: str = Field(description="stopped, deleted, or confirmation_required")
    effect: str
    message: str
    next_step: str


def _check_name(field: str, value: str) -> str:
    value = value.strip()
    if not _NAME.match(value):
        raise InvalidArgumentError(
            field,
            f"{shown(value)} is not a valid {field.replace('_', ' ')}.",
            next_step="Use the name shown by list_jobs (letters, digits, '.', '_', '-').",
        )
    return value


class ClusterService:
    def __init__(self, engine_factory: Callable[[], LauncherEngine], *, timeout_s: float) -> None:
        self._engine_factory = engine_factory
        self._engine: LauncherEngine | None = None
        self._timeout_s = timeout_s

    def _engine_now(self) -> LauncherEngine:
        if self._engine is None:
            self._engine = self._engine_factory()
        return self._engine

    async def _call(
        self, what: str, cloud: str, cluster: str, action: Callable[[LauncherEngine], None]
    ) -> None:
        def call() -> None:
            engine = self._engine_now()
            known = engine.clouds()
            if cloud not in known:
                raise InvalidArgumentError(
                    "cloud",
                    f"{shown(cloud)} is not a cloud oumi.launcher knows.",
                    next_step=f"Use one of: {', '.join(known)}.",
                )
            try:
                action(engine)
            except ValueError as exc:  # oumi.launcher: "Cluster X not found."
                raise NotFoundError(
                    f"No cluster '{cluster}' on {cloud}: {exc}",
                    next_step="list_jobs shows the clusters that have jobs; check the name.",
                ) from exc

        await run_blocking(
            call,
            timeout_s=self._timeout_s,
            what=what,
            next_step=f"The request may still complete; check {cloud}/{cluster} with "
            "`sky status` or list_jobs before retrying.",
        )

    async def stop(self, cloud: str, cluster_name: str) -> ClusterActionResult:
        cloud = _check_name("cloud", cloud).lower()
        cluster = check_cluster_name(cluster_name)
        await self._call(f"Stopping {cluster}", cloud, cluster, lambda e: e.stop(cloud, cluster))
        return ClusterActionResult(
            cloud=cloud,
            cluster_name=cluster,
            action="stopped",
            effect=STOP_EFFECT,
            message=f"Stopped cluster {cluster} on {cloud}.",
            next_step="down_cluster deletes it for good once its outputs are copied out.",
        )

    async def down(
        self, cloud: str, cluster_name: str, *, confirm: bool, confirm_cluster_name: str
    ) -> ClusterActionResult:
        cloud = _check_name("cloud", cloud).lower()
        cluster = check_cluster_name(cluster_name)
        if not confirm or confirm_cluster_name.strip() != cluster:
            return ClusterActionResult(
                cloud=cloud,
                cluster_name=cluster,
                action="confirmation_required",
                effect=DOWN_EFFECT,
                message=f"Nothing was done. Deleting {cluster} on {cloud} needs confirmation.",
                next_step="Copy outputs out first (outputs on the cluster are ephemeral), ask the "
                f"user, then call down_cluster again with confirm=true and "
                f"confirm_cluster_name='{cluster}'.",
            )
        await self._call(f"Deleting {cluster}", cloud, cluster, lambda e: e.down(cloud, cluster))
        return ClusterActionResult(
            cloud=cloud,
            cluster_name=cluster,
            action="deleted",
            effect=DOWN_EFFECT,
            message=f"Deleted cluster {cluster} on {cloud}.",
            next_step="list_jobs no longer shows its jobs.",
        )
