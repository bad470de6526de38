"""The contract both engines implement, and the shapes of their answers.

Two engines run jobs: ``jobs/process/`` (``oumi`` in its own process group,
started by us) and ``jobs/launcher/`` (everything through oumi.launcher, on
any cloud, Slurm, or its own ``local`` cloud). ``JobService`` holds one of
each and reaches them only through ``JobBackend``, picking the backend by
each record's ``backend`` name. Backends are injected (the composition root
builds them; tests pass real or fake engines there, never by patching).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, TypeVar

from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.checks import ConfigSource, NestedConfig
from oumi_mcp_server.jobs.cluster_list import ClusterSurvey
from oumi_mcp_server.jobs.logs import LogPage
from oumi_mcp_server.jobs.models import (
    CheckSummary,
    CloudWarning,
    JobStatusReport,
    JobSummary,
    RunJobResult,
)
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.status import JobState


@dataclass(frozen=True)
class Observation:
    """The engine's live answer for one job."""

    state: JobState
    reason: str
    exit_code: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    pid: int | None = None  # process jobs: the wrapper's pid
    # launcher jobs: the job the launcher answered for (the registry may not have it yet)
    launcher_job_id: str = ""
    cluster_name: str = ""


CancelAction = Literal["cancelled", "already_finished", "still_running"]


@dataclass(frozen=True)
class CancelOutcome:
    action: CancelAction
    previous: Observation
    final: Observation
    message: str  # what was done, in the engine's words
    signals_sent: list[str] = field(default_factory=list)


def already_finished(observation: Observation) -> CancelOutcome:
    """A cancel of a job that had already ended: nothing is done (cancel is idempotent)."""
    return CancelOutcome(
        "already_finished",
        observation,
        observation,
        f"Nothing to do: the job already finished ({observation.state.value}).",
    )


@dataclass(frozen=True)
class LogRead:
    stream: str
    path: str
    page: LogPage


@dataclass(frozen=True)
class Survey:
    """What one engine says for list_jobs: a live observation of each of its records (in
    order), and what else it knows: jobs we did not start, sources that did not answer."""

    observations: list[Observation]
    foreign: list[JobSummary] = field(default_factory=list)
    warnings: list[CloudWarning] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)  # sources that answered (clouds)
    notes: list[str] = field(default_factory=list)  # one line each: sources left unasked


class LaunchPlan(Protocol):
    """What an engine will start for one request, before and after its id is reserved."""

    @property
    def job_id(self) -> str: ...

    @property
    def config(self) -> Path: ...

    @property
    def run_dir(self) -> RunDir: ...

    @property
    def validation_kind(self) -> str:
        """The config class the config must validate as."""

    @property
    def check_target(self) -> str:
        """Where it runs, as pre-flight names it ('local' or a cloud)."""

    @property
    def check_envs(self) -> dict[str, str]:
        """Variables the job gets besides the config's (pre-flight looks at them)."""

    @property
    def nested_configs(self) -> tuple[NestedConfig, ...]:
        """Configs the launched one hands to oumi (a job config's run block calling
        ``oumi train -c f.yaml``): checked too, each as its command's kind."""

    @property
    def check_cluster(self) -> str:
        """The cluster pre-flight checks (a Slurm user@host), "" when the plan names none."""

    def record(self) -> JobRecord: ...

    def result(
        self, checks: CheckSummary, observation: Observation | None, *, dry_run: bool
    ) -> RunJobResult:
        """run_oumi_job's answer: a dry run, a launch blocked by checks (no observation),
        or a launch with the engine's first observation."""


PlanT = TypeVar("PlanT", bound=LaunchPlan)


class JobHolder(Protocol):
    """Whoever holds a record answers for it: an engine, or (while a launch is being
    checked) the pending launches. Every method takes only records it holds."""

    @property
    def name(self) -> str:
        """The ``backend`` value of the records it holds."""

    async def observe(self, records: Sequence[JobRecord]) -> list[Observation]:
        """Live state of each record, in order, from the engine (never a cache of ours)."""

    async def survey(self, records: Sequence[JobRecord], clouds: Sequence[str] = ()) -> Survey:
        """list_jobs: ``observe`` plus what the engine knows besides our records;
        ``clouds``: clouds the call names, to ask besides the usual ones (engines without
        clouds ignore it)."""

    async def cancel(self, record: JobRecord, *, force: bool) -> CancelOutcome:
        """Stop the job if it is still running, and say what was done."""

    async def logs(
        self, record: JobRecord, streams: Sequence[str], *, lines: int, offset: int | None
    ) -> list[LogRead]:
        """A bounded tail (``offset`` None) or forward page of each stream."""

    async def failure_output(self, record: JobRecord, lines: int) -> dict[str, list[str]]:
        """The last lines of each stream, where they can be read without asking a remote
        cluster (a failed job's status shows them); {} where they cannot."""

    async def recover(self) -> dict[str, int]:
        """Once at start, before launches: repair what earlier server processes left; the
        number of unfinished jobs found per state."""

    def forget(self, job_ids: Sequence[str]) -> None:
        """Drop what is remembered about these jobs (their records were pruned)."""


class JobBackend(JobHolder, Protocol[PlanT]):
    """One engine: it plans and starts jobs, then holds their records."""

    async def plan(self, args: CheckedArgs, source: ConfigSource) -> PlanT:
        """What would run (raises ``InvalidArgumentError`` for what this engine cannot run)."""

    async def launch(self, plan: PlanT, record: JobRecord) -> Observation:
        """Start the job of a handed-over record; return at once with its first observation."""

    async def newest_checkpoint(self, record: JobRecord) -> str | None:
        """Where the job's newest complete checkpoint is (for a restart), if it can be seen."""
        ...


class LauncherJobs(JobBackend[PlanT], Protocol[PlanT]):
    """The oumi.launcher engine: besides a backend's duties, it finds any job a cloud knows
    by the cloud's own id, fills its listing cache ahead of list_jobs, and closes."""

    async def lookup(
        self, launcher_job_id: str, cloud: str, cluster_name: str
    ) -> JobRecord | JobStatusReport:
        """Our record if we launched that job, else the cloud's status report of it."""

    async def clusters(
        self, records: Sequence[JobRecord], clouds: Sequence[str] = ()
    ) -> ClusterSurvey:
        """The clusters the asked clouds list (``records``: ours, whose clouds and clusters
        are asked too; ``clouds``: named by the call)."""

    async def warm(self, timeout_s: float) -> list[str]:
        """List the clouds list_jobs will ask, each within ``timeout_s``; the sources that
        answered."""

    async def close(self) -> None:
        """Stop what it runs in the background (the jobs keep running)."""

    async def release_cluster(self, record: JobRecord, how: Literal["stop", "down"]) -> str:
        """Stop or delete the cluster a job ran on (a guard's on_trip); what was done."""


class FinalStates:
    """Terminal observations, remembered because a terminal state never changes.

    Bounded (oldest forgotten first), so memory does not grow with the number
    of jobs ever run; a forgotten job is simply observed again.
    """

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, Observation] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, job_id: str) -> Observation | None:
        return self._entries.get(job_id)

    def put(self, job_id: str, observation: Observation) -> None:
        with self._lock:
            self._entries[job_id] = observation
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.popitem(last=False)

    def pop(self, job_id: str) -> None:
        """Forget a job: its first attempt's key and every later attempt's."""
        with self._lock:
            for key in [key for key in self._entries if key.split("/", 1)[0] == job_id]:
                del self._entries[key]
