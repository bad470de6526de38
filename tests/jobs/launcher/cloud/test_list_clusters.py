"""list_clusters through the real JobService and the fake launcher: each cluster's price
(its cloud's own, else this server's quote), its jobs, how long it has idled and what that
cost; a billing cluster idle 30 min is flagged, and list_jobs' warning counts idle time
from the end of the last job, not from its launch."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.policies.guards import Guards
from oumi_mcp_server.jobs.service import JobService
from tests.jobs.launcher.cloud.support import RecordingLauncher, launch_on_gcp

pytestmark = pytest.mark.anyio
A100 = CloudResources(accelerators="A100:1")


def end_jobs(engine: RecordingLauncher, cloud: str, cluster: str, ended_at: float) -> None:
    """The cloud reports every job of the cluster finished at ``ended_at``."""
    engine.update_jobs(
        cloud, cluster=cluster, status="SUCCEEDED", state="completed", done=True, ended_at=ended_at
    )


async def test_each_cluster_shows_its_price_jobs_and_who_launched_it(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    ours = await launch_on_gcp(priced, project, resources=A100, guards=Guards(max_hours=2))
    theirs = await launch_on_gcp(priced, project, resources=A100, cluster_name="their-cluster")
    engine.add_job("aws", "sky-abc", "7", "someone-else", "RUNNING")
    # SkyPilot's price of that cluster, as oumi.launcher reports it
    engine.update_jobs("aws", cluster="sky-abc", cost_per_hour=32.77)

    listed = await priced.list_clusters()

    rows = {(row.cloud, row.cluster_name): row for row in listed.clusters}
    own = rows[("gcp", ours.cluster_name)]
    assert own.launched_by_this_server and own.bills_until_stopped
    assert own.our_job_ids == [ours.job_id] and own.jobs_running == 1
    assert own.hourly_usd == 10.0 and "quote" in own.price_source  # kept with the guards
    assert own.idle_minutes is None and not own.warning  # a job runs there
    other = rows[("gcp", "their-cluster")]
    assert not other.launched_by_this_server and other.our_job_ids == [theirs.job_id]
    assert other.hourly_usd is None and "unknown" in other.price_source  # never invented
    foreign = rows[("aws", "sky-abc")]
    assert foreign.hourly_usd == 32.77 and "cloud" in foreign.price_source
    assert foreign.our_job_ids == [] and not foreign.launched_by_this_server
    assert listed.flagged == 0 and "3 cluster(s), 3 with jobs running" in listed.message
    assert sorted(listed.listed) == ["aws", "gcp", "local"]


async def test_a_billing_cluster_idle_30_min_is_flagged_first_with_its_idle_cost(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    ours = await launch_on_gcp(priced, project, resources=A100, guards=Guards(max_hours=2))
    busy = await launch_on_gcp(priced, project, resources=A100, cluster_name="busy")
    engine.add_job("aws", "forgotten", "9", "someone-else", "SUCCEEDED")
    two_hours_ago = time.time() - 2 * 3600
    end_jobs(engine, "gcp", ours.cluster_name, two_hours_ago)
    end_jobs(engine, "aws", "forgotten", two_hours_ago)
    priced._launcher.listings.invalidate("gcp")  # type: ignore[attr-defined]

    listed = await priced.list_clusters()

    flagged = [row for row in listed.clusters if row.warning]
    assert [row.cluster_name for row in flagged] == sorted(["forgotten", ours.cluster_name])
    assert listed.clusters[: len(flagged)] == flagged  # flagged ones come first
    own = next(row for row in flagged if row.cluster_name == ours.cluster_name)
    assert own.idle_minutes is not None and 119 <= own.idle_minutes <= 121
    assert "end of its last job" in own.idle_basis
    assert own.idle_cost_usd is not None and 19.8 <= own.idle_cost_usd <= 20.2  # 2 h x $10
    assert "stop_cluster(cloud='gcp'" in own.next_step and "Copy outputs" in own.next_step
    foreign = next(row for row in flagged if row.cluster_name == "forgotten")
    assert foreign.idle_cost_usd is None  # no price known: no cost made up
    assert "outside this server" in foreign.next_step
    assert listed.flagged == 2 and listed.idle_cost_usd == round(own.idle_cost_usd, 2)
    assert listed.next_step == flagged[0].next_step
    (busy_row,) = [row for row in listed.clusters if row.cluster_name == "busy"]
    assert busy_row.our_job_ids == [busy.job_id] and not busy_row.warning


async def test_without_end_times_idle_counts_from_when_this_server_saw_it_idle(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    engine.add_job("gcp", "quiet", "5", "someone-else", "SUCCEEDED")  # no end time given
    first = await priced.list_clusters()
    (row,) = [row for row in first.clusters if row.cluster_name == "quiet"]
    assert row.idle_minutes == 0.0 and "first saw it" in row.idle_basis and not row.warning


async def test_list_jobs_counts_idle_from_the_last_jobs_end_not_its_launch(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    ours = await launch_on_gcp(priced, project, resources=A100)
    end_jobs(engine, "gcp", ours.cluster_name, time.time() - 45 * 60)
    priced._launcher.listings.invalidate("gcp")  # type: ignore[attr-defined]
    warnings = [w for w in (await priced.list_jobs()).warnings if w.kind == "idle_cluster"]
    assert [w.cluster_name for w in warnings] == [ours.cluster_name]
    assert "45 min" in warnings[0].error

    long_run = await launch_on_gcp(priced, project, resources=A100)
    ended = {"state": "completed", "done": True, "ended_at": time.time() - 60}
    engine.update_jobs("gcp", cluster=long_run.cluster_name, **ended)  # ended a minute ago
    priced._launcher.listings.invalidate("gcp")  # type: ignore[attr-defined]
    warnings = [w for w in (await priced.list_jobs()).warnings if w.kind == "idle_cluster"]
    assert long_run.cluster_name not in [w.cluster_name for w in warnings]


async def test_one_cloud_is_asked_alone_and_a_silent_cloud_is_a_warning(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    await launch_on_gcp(priced, project, resources=A100)
    engine.add_job("aws", "sky-aws", "3", "someone-else", "RUNNING")
    only_aws = await priced.list_clusters("aws")
    assert [row.cloud for row in only_aws.clusters] == ["aws"]
    engine.clouds_by_name["aws"].error = "credentials expired"
    priced._launcher.listings.invalidate("aws")  # type: ignore[attr-defined]
    listed = await priced.list_clusters()
    assert [row.cloud for row in listed.clusters] == ["gcp"]
    assert [w.cloud for w in listed.warnings] == ["aws"]
    assert "credentials expired" in listed.warnings[0].error
    with pytest.raises(InvalidArgumentError):
        await priced.list_clusters("no such cloud!")
