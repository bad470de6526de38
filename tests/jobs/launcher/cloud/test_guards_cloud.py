"""Guards on cloud jobs (the real JobService; the fake launcher; a fixed price): the quote
in the dry run, a launch over budget refused, and on_trip acting only on a cluster the
server launched for the job."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.policies.guards import Guards
from oumi_mcp_server.jobs.service import JobService
from tests.jobs.launcher.cloud.support import (
    CONFIG,
    RecordingLauncher,
    launch_on_gcp,
)

pytestmark = pytest.mark.anyio
A100 = CloudResources(accelerators="A100:1")


async def test_the_dry_run_quotes_the_price_and_the_bound(
    priced: JobService, project: Path
) -> None:
    dry = await priced.run(
        CONFIG, "train", str(project), cloud="gcp", resources=A100, guards=Guards(max_hours=3)
    )
    assert dry.cost is not None
    assert dry.cost.hourly_usd == 10.0 and dry.cost.total_hourly_usd == 10.0
    assert dry.cost.max_hours == 3 and dry.cost.max_total_usd == 30.0
    plain = await priced.run(CONFIG, "train", str(project), cloud="gcp", resources=A100)
    assert plain.cost is not None and plain.cost.max_total_usd is None
    assert plain.cost.estimated_hours is None and "max_hours bounds it" in plain.cost.estimate_basis


async def test_a_launch_whose_quote_exceeds_the_budget_is_refused_and_starts_nothing(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    with pytest.raises(InvalidArgumentError) as refused:
        await priced.run(
            CONFIG,
            "train",
            str(project),
            cloud="gcp",
            resources=A100,
            dry_run=False,
            guards=Guards(max_hours=5, max_cost_usd=20),
        )
    assert refused.value.field == "guards" and "$50.00" in refused.value.message
    assert engine.calls_named("up") == []
    assert not [row for row in (await priced.list_jobs()).jobs if row.job_id]  # no job


async def test_on_trip_downs_only_a_cluster_the_server_launched(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    trip = Guards(max_hours=0.0002, on_trip="down_cluster")
    ours = await launch_on_gcp(priced, project, resources=A100, guards=trip)
    theirs = await launch_on_gcp(
        priced, project, resources=A100, guards=trip, cluster_name="their-cluster"
    )
    await asyncio.sleep(1.0)
    assert sorted(await priced.drive_guards()) == sorted([ours.job_id, theirs.job_id])
    downs = engine.calls_named("down")
    assert [call[2] for call in downs] == [ours.cluster_name]  # never "their-cluster"
    for record in (ours, theirs):
        status = await priced.status(record.job_id)
        assert status.stopped_by == "max_hours" and status.state == "cancelled", status


async def test_a_cluster_the_server_launched_left_idle_is_flagged_and_no_other(
    priced: JobService, project: Path, engine: RecordingLauncher
) -> None:
    ours = await launch_on_gcp(priced, project, resources=A100)
    theirs = await launch_on_gcp(priced, project, resources=A100, cluster_name="their-cluster")
    for record in (ours, theirs):
        engine.set_status("gcp", record.launcher_job_id, "SUCCEEDED", "completed", True)
    records = [priced.registry.get(ours.job_id), priced.registry.get(theirs.job_id)]
    observed = {r.job_id: o for r, o in zip(records, await priced._observe(records), strict=True)}
    assert await priced.idle_clusters(records, observed) == []  # ended just now
    later = time.time() + 45 * 60
    (warning,) = await priced.idle_clusters(records, observed, now=later)
    assert warning.cluster_name == ours.cluster_name and "45 min" in warning.error
    assert "stop_cluster" in warning.next_step and warning.kind == "idle_cluster"
