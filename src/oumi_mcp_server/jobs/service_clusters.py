"""JobService's clusters: list_clusters, and list_jobs' warning for an idle cluster this
server launched. The clusters come from the launcher's cached listings (the ones list_jobs
reads), their price and idle time from jobs/cluster_list.py."""

from __future__ import annotations

import time
from collections.abc import Sequence

from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs import registry_runs
from oumi_mcp_server.jobs.arguments import check_cloud
from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.cluster_list import (
    IDLE_CLUSTER_MINUTES,
    CloudCluster,
    ClusterList,
    OurCluster,
    cluster_list,
    cluster_rows,
    last_end_of,
    release_call,
)
from oumi_mcp_server.jobs.models import CloudWarning
from oumi_mcp_server.jobs.records import LAUNCHER_BACKEND, JobRecord
from oumi_mcp_server.jobs.service_guards import JobGuards
from oumi_mcp_server.jobs.status import is_terminal


class JobClusters(JobGuards):
    async def list_clusters(self, cloud: str = "") -> ClusterList:
        """The clusters the asked clouds list (``cloud``: one to ask besides the usual ones,
        and the only one shown), with price, jobs running and idle time."""
        named = [check_cloud(cloud)] if cloud.strip() else []
        records = await registry_ops.call(lambda: self.registry.all(backend=LAUNCHER_BACKEND))
        survey = await self._launcher.clusters(records, named)
        ours = await self._our_clusters(records)
        seen = [c for c in survey.clusters if not named or c.cloud in named]
        return cluster_list(survey, cluster_rows(seen, ours, self._idle))

    async def _our_clusters(self, records: Sequence[JobRecord]) -> dict[CloudCluster, OurCluster]:
        ids = {record.job_id for record in records}
        own = await registry_ops.call(lambda: registry_runs.own_clusters(self.registry))
        priced = await registry_ops.call(lambda: registry_runs.guarded(self.registry, ids))
        ours: dict[CloudCluster, OurCluster] = {}
        for record in records:
            if not record.cluster_name:
                continue
            key = (record.cloud, record.cluster_name)
            known = ours.get(key, OurCluster())
            row = priced.get(record.job_id)
            ours[key] = OurCluster(
                job_ids=(*known.job_ids, record.job_id),
                launched_here=known.launched_here or record.job_id in own,
                quoted_hourly_usd=known.quoted_hourly_usd
                if known.quoted_hourly_usd is not None or row is None
                else row.hourly_usd,
            )
        return ours

    async def idle_clusters(
        self,
        records: Sequence[JobRecord],
        observed: dict[str, Observation],
        now: float | None = None,
    ) -> list[CloudWarning]:
        """list_jobs: clusters this server launched (on clouds that bill until stopped)
        with no running job for IDLE_CLUSTER_MINUTES; a cluster whose jobs its cloud no
        longer knows (deleted) is not flagged."""
        own = await registry_ops.call(lambda: registry_runs.own_clusters(self.registry))
        groups: dict[CloudCluster, list[JobRecord]] = {}
        for record in records:
            if record.job_id in own and record.cluster_name:
                groups.setdefault((record.cloud, record.cluster_name), []).append(record)
        warnings = []
        moment = time.time() if now is None else now
        for (cloud, cluster), members in groups.items():
            seen = [observed[record.job_id] for record in members]
            if not all(is_terminal(observation.state) for observation in seen):
                self._idle.idle((cloud, cluster), busy=True, last_end=None, now=moment)
                continue  # a job runs there, or its cloud no longer knows it
            ended = last_end_of([observation.ended_at for observation in seen])
            idle = self._idle.idle((cloud, cluster), busy=False, last_end=ended, now=moment)
            minutes = (moment - idle.since) / 60 if idle is not None else 0.0
            if minutes < IDLE_CLUSTER_MINUTES:
                continue
            warnings.append(
                CloudWarning(
                    cloud=cloud,
                    cluster_name=cluster,
                    error=f"cluster {cluster}, launched by this server, has had no running "
                    f"job for {minutes:.0f} min and still bills.",
                    next_step=f"Copy outputs out, then {release_call(cloud, cluster)}.",
                    kind="idle_cluster",
                )
            )
        return warnings
