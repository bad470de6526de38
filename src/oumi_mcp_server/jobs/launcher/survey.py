"""list_jobs for launcher jobs: every asked cloud's listing, our records' states from it.

Each asked cloud (asked_clouds.py: SkyPilot's enabled ones, those of our jobs, oumi's
local cloud, configured Slurm clusters) is listed once, in parallel (Slurm: each
cluster). A launched record takes its state from its listing; one still launching,
from its launch. A Slurm
job its listing lacks is asked for by id (sacct lags sbatch by a few seconds;
squeue already has it). Jobs no record claims are listed as foreign: started
outside this server.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from oumi_mcp_server.jobs.backend import Observation, Survey
from oumi_mcp_server.jobs.cluster_list import ClusterSurvey, SeenCluster, last_end_of
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.launcher.engine import LauncherJob
from oumi_mcp_server.jobs.launcher.foreign import foreign_summary
from oumi_mcp_server.jobs.launcher.leftovers import Leftovers
from oumi_mcp_server.jobs.launcher.listing import (
    ALL_CLOUDS,
    CloudListing,
    CloudListings,
    Listed,
)
from oumi_mcp_server.jobs.launcher.status import LauncherStatus
from oumi_mcp_server.jobs.models import CloudWarning
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.status import JobState


async def survey_records(
    records: Sequence[JobRecord],
    *,
    listings: CloudListings,
    status: LauncherStatus,
    leftovers: Leftovers,
    observe: Callable[[Sequence[JobRecord]], Awaitable[list[Observation]]],
    clouds: Sequence[str] = (),
) -> Survey:
    """Every asked cloud's listing (in parallel, Slurm cluster by cluster; ``clouds``: the
    ones the call names, asked too); launched records take their state from it, the
    others from their launch; the jobs no record claims are foreign."""
    waiting = [record for record in records if not record.is_launched]
    listed, seen = await asyncio.gather(
        list_for(records, listings, clouds=clouds), observe(waiting)
    )
    found = listed.listings
    before = dict(zip((record.job_id for record in waiting), seen, strict=True))
    by_source = {(listing.cloud, listing.cluster): listing for listing in found}
    observations: list[Observation] = []
    claimed: set[tuple[str, str, str]] = set()
    unlisted: dict[int, JobRecord] = {}
    for record in records:
        if record.job_id in before:
            observations.append(before[record.job_id])
            continue
        listing = (
            by_source.get((ALL_CLOUDS, ""))
            or by_source.get((record.cloud, record.cluster_name))
            or by_source.get((record.cloud, ""))
            or CloudListing(record.cloud, error="oumi.launcher does not know this cloud.")
        )
        observation = status.from_listing(record, listing)
        if kind_of(record.cloud).accounting_lags and observation.state is JobState.UNKNOWN:
            unlisted[len(observations)] = record  # sacct lags sbatch: ask squeue
        observations.append(observation)
        claimed.add((record.cloud, record.cluster_name, record.launcher_job_id))
    if unlisted:
        asked = await asyncio.gather(*(status.observe(r) for r in unlisted.values()))
        for index, observation in zip(unlisted, asked, strict=True):
            observations[index] = observation
    observations = await leftovers.unless_alive(records, observations)
    return Survey(
        observations,
        foreign=[
            foreign_summary(job)
            for listing in found
            for job in listing.jobs
            if (job.cloud, job.cluster, job.id) not in claimed
        ],
        warnings=unanswered(found),
        listed=sorted(listing.source for listing in found if listing.ok),
        notes=[listed.note] if listed.note else [],
    )


def list_for(
    records: Sequence[JobRecord],
    listings: CloudListings,
    *,
    clouds: Sequence[str] = (),
    timeout_s: float | None = None,
) -> Awaitable[Listed]:
    """Every asked cloud's listing, the clouds and (Slurm) clusters of ``records`` asked
    too; ``clouds``: named by the call."""
    named = {(record.cloud, record.cluster_name) for record in records if record.cluster_name}
    return listings.list_all(
        sorted(named), ours=_clouds_of(records), named=clouds, timeout_s=timeout_s
    )


def _clouds_of(records: Sequence[JobRecord]) -> list[str]:
    return sorted({record.cloud for record in records})


def unanswered(listings: Sequence[CloudListing]) -> list[CloudWarning]:
    return [
        CloudWarning(
            cloud=listing.cloud,
            cluster_name=listing.cluster,
            error=listing.error,
            next_step=listing.next_step,
        )
        for listing in listings
        if not listing.ok
    ]


async def survey_clusters(
    records: Sequence[JobRecord], *, listings: CloudListings, clouds: Sequence[str] = ()
) -> ClusterSurvey:
    """list_clusters: the clusters every asked cloud lists (those of our jobs too), each
    with its jobs counted, its cloud's price and the end of its last job."""
    return cluster_survey(await list_for(records, listings, clouds=clouds))


def cluster_survey(listed: Listed) -> ClusterSurvey:
    by_cluster: dict[tuple[str, str], list[LauncherJob]] = {}
    for listing in listed.listings:
        if listing.ok and listing.cluster:  # listed cluster by cluster: shown with no job too
            by_cluster.setdefault((listing.cloud, listing.cluster), [])
        for job in listing.jobs:
            by_cluster.setdefault((job.cloud, job.cluster), []).append(job)
    return ClusterSurvey(
        [
            seen_cluster(cloud, cluster, jobs)
            for (cloud, cluster), jobs in sorted(by_cluster.items())
        ],
        warnings=unanswered(listed.listings),
        listed=sorted(listing.source for listing in listed.listings if listing.ok),
        notes=[listed.note] if listed.note else [],
    )


def seen_cluster(cloud: str, cluster: str, jobs: Sequence[LauncherJob]) -> SeenCluster:
    prices = [job.cost_per_hour for job in jobs if job.cost_per_hour is not None]
    return SeenCluster(
        cloud=cloud,
        cluster=cluster,
        running=sum(1 for job in jobs if not job.done),
        known=len(jobs),
        price=prices[0] if prices else None,
        last_end=last_end_of([job.ended_at for job in jobs if job.done]),
    )


async def warm_listings(
    records: Sequence[JobRecord], *, listings: CloudListings, timeout_s: float
) -> list[str]:
    """List the clouds list_jobs would ask now, each within ``timeout_s`` (a SkyPilot
    cloud's first call may start its API server), so that the first list_jobs is answered
    from the cache. Nothing to do when only oumi's local cloud is asked. Returns the
    sources that answered."""
    asked = await listings.to_ask(_clouds_of(records))
    if all(kind_of(cloud).jobs_live_in_server for cloud in asked.clouds):
        return []  # nothing to warm: the local cloud's table is in this process
    listed = await list_for(records, listings, timeout_s=timeout_s)
    return sorted(listing.source for listing in listed.listings if listing.ok)
