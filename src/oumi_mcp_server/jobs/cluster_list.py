"""list_clusters: the clusters the launcher's clouds list, what each costs and how long
it has had nothing to run.

A cluster's price is its cloud's own (SkyPilot's price of the cluster's resources,
all nodes), else the quote this server kept when it launched a job there. Idle time
counts from the end of its last job where the cloud reports end times, else from
when this server first saw it with nothing to run (so it is never overstated). A
cluster that bills until stopped and has been idle 30 minutes is flagged.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import CloudWarning

IDLE_CLUSTER_MINUTES = 30.0
CloudCluster = tuple[str, str]  # (cloud, cluster name)


@dataclass(frozen=True)
class SeenCluster:
    """One cluster as its cloud's listing shows it."""

    cloud: str
    cluster: str
    running: int  # jobs not done (queued, launching or running)
    known: int  # jobs the listing shows
    price: float | None = None  # the cloud's price per hour, all nodes
    last_end: float | None = None  # the end of its last job, when every end is known


@dataclass(frozen=True)
class ClusterSurvey:
    """What the launcher's clouds list: their clusters, and the sources that answered."""

    clusters: list[SeenCluster]
    warnings: list[CloudWarning] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OurCluster:
    """What this server knows of a cluster from its own jobs there."""

    job_ids: tuple[str, ...] = ()
    launched_here: bool = False  # the server launched the cluster for one of them
    quoted_hourly_usd: float | None = None  # the quote kept at launch


def last_end_of(ends: Sequence[float | None]) -> float | None:
    """When the last of these finished jobs ended, if every end is known."""
    known = [end for end in ends if end is not None]
    return max(known) if known and len(known) == len(ends) else None


@dataclass(frozen=True)
class Idle:
    since: float
    basis: str


class IdleClock:
    """Since when each cluster has had nothing to run: the cloud's end of its last job, else
    the first time this server saw it idle (a new server starts counting afresh)."""

    def __init__(self) -> None:
        self._first_seen: dict[CloudCluster, float] = {}

    def idle(
        self, key: CloudCluster, *, busy: bool, last_end: float | None, now: float
    ) -> Idle | None:
        if busy:
            self._first_seen.pop(key, None)
            return None
        first = self._first_seen.setdefault(key, now)
        if last_end is not None:
            return Idle(min(last_end, now), "the end of its last job, as its cloud reports it")
        return Idle(first, "since this server first saw it with no running job")


class ClusterRow(AnswerModel):
    cloud: str
    cluster_name: str
    launched_by_this_server: bool = Field(
        description="True when this server launched the cluster for one of its jobs: the only "
        "clusters a guard's on_trip may stop or delete."
    )
    bills_until_stopped: bool = Field(
        description="True on SkyPilot clouds: the cluster costs money until stop_cluster or "
        "down_cluster, running jobs or not."
    )
    jobs_running: int = Field(description="Jobs queued, launching or running on it.")
    jobs_listed: int = Field(description="Jobs its cloud lists on it, finished ones included.")
    our_job_ids: list[str] = Field(default_factory=list, description="Jobs of ours on it.")
    hourly_usd: float | None = Field(
        default=None, description="Its price per hour, all nodes; null when no price is known."
    )
    price_source: str = ""
    idle_minutes: float | None = Field(
        default=None, description="How long it has had no running job; null while one runs."
    )
    idle_basis: str = Field(default="", description="What the idle time counts from.")
    idle_cost_usd: float | None = Field(
        default=None, description="What the idle time has cost at hourly_usd."
    )
    warning: str = Field(default="", description="Set when it bills and has idled 30 min.")
    next_step: str = ""


class ClusterList(AnswerModel):
    clusters: list[ClusterRow] = Field(
        description="Idle clusters that bill first (flagged ones), then the others by cloud."
    )
    flagged: int = Field(description="Clusters that bill and have idled 30 min or more.")
    idle_cost_usd: float = Field(
        description="What the idle time of the clusters with a price has cost so far."
    )
    warnings: list[CloudWarning] = Field(
        default_factory=list, description="Clouds or Slurm clusters that did not answer."
    )
    listed: list[str] = Field(default_factory=list, description="The sources that answered.")
    notes: list[str] = Field(default_factory=list)
    message: str
    next_step: str


def cluster_rows(
    seen: Iterable[SeenCluster],
    ours: Mapping[CloudCluster, OurCluster],
    clock: IdleClock,
    now: float | None = None,
) -> list[ClusterRow]:
    moment = time.time() if now is None else now
    rows = [
        _row(cluster, ours.get((cluster.cloud, cluster.cluster)), clock, moment) for cluster in seen
    ]
    return sorted(rows, key=lambda row: (not row.warning, row.cloud, row.cluster_name))


def _row(cluster: SeenCluster, our: OurCluster | None, clock: IdleClock, now: float) -> ClusterRow:
    our = our or OurCluster()
    bills = kind_of(cluster.cloud).bills_until_stopped
    hourly, source = _price(cluster, our, bills)
    idle = clock.idle(
        (cluster.cloud, cluster.cluster),
        busy=cluster.running > 0,
        last_end=cluster.last_end,
        now=now,
    )
    minutes = round((now - idle.since) / 60, 1) if idle is not None else None
    idle_cost = round(hourly * minutes / 60, 4) if hourly is not None and minutes else None
    row = ClusterRow(
        cloud=cluster.cloud,
        cluster_name=cluster.cluster,
        launched_by_this_server=our.launched_here,
        bills_until_stopped=bills,
        jobs_running=cluster.running,
        jobs_listed=cluster.known,
        our_job_ids=list(our.job_ids),
        hourly_usd=hourly,
        price_source=source,
        idle_minutes=minutes,
        idle_basis=idle.basis if idle is not None else "",
        idle_cost_usd=idle_cost if bills else None,
    )
    if not bills or minutes is None or minutes < IDLE_CLUSTER_MINUTES:
        return row
    price = f" at ${hourly:.2f}/h (${idle_cost or 0:.2f} while idle)" if hourly is not None else ""
    release = release_call(cluster.cloud, cluster.cluster)
    return row.model_copy(
        update={
            "warning": f"No running job for {minutes:.0f} min; it still bills{price}.",
            "next_step": f"Copy outputs out, then {release}."
            if our.launched_here
            else f"Started outside this server: ask its owner, then {release}.",
        }
    )


def release_call(cloud: str, cluster: str) -> str:
    """The calls that end a cluster's billing, as a next step says them."""
    return f"stop_cluster(cloud='{cloud}', cluster_name='{cluster}') or down_cluster"


def _price(cluster: SeenCluster, our: OurCluster, bills: bool) -> tuple[float | None, str]:
    if cluster.price is not None:
        return cluster.price, "its cloud's price of the cluster's resources (SkyPilot)"
    if our.quoted_hourly_usd is not None:
        return our.quoted_hourly_usd, "this server's quote when it launched a job there"
    if not bills:
        return None, "billed per job, not while idle (get_job_status shows a job's spend)"
    return None, "unknown: its cloud gave no price and this server quoted none"


def cluster_list(survey: ClusterSurvey, rows: Sequence[ClusterRow]) -> ClusterList:
    flagged = [row for row in rows if row.warning]
    idle_cost = round(sum(row.idle_cost_usd or 0.0 for row in rows), 2)
    if not rows:
        message = "No cluster is listed on the clouds that answered."
    else:
        busy = sum(1 for row in rows if row.jobs_running)
        message = f"{len(rows)} cluster(s), {busy} with jobs running"
        if flagged:
            message += f"; {len(flagged)} idle for {IDLE_CLUSTER_MINUTES:.0f}+ min and billing"
        message += "."
    return ClusterList(
        clusters=list(rows),
        flagged=len(flagged),
        idle_cost_usd=idle_cost,
        warnings=survey.warnings,
        listed=survey.listed,
        notes=survey.notes,
        message=message,
        next_step=flagged[0].next_step
        if flagged
        else "stop_cluster ends a cluster's compute billing; down_cluster deletes it.",
    )
