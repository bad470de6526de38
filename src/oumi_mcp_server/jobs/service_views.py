"""JobService's views of jobs: status, the list, logs, metrics, live states, and cancel.

Each state is the engine's live word (never a cache of ours); list_jobs asks
every engine in parallel, each cloud under its own time limit. A failed job's cause
is its diagnosis (service_diagnosis.py): made by get_job_status when its logs are on
this machine, only read back by list_jobs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Mapping

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.arguments import (
    check_cloud,
    check_log_request,
    check_status_filter,
)
from oumi_mcp_server.jobs.backend import LogRead
from oumi_mcp_server.jobs.catalog import MAX_LOG_LINES
from oumi_mcp_server.jobs.listing import job_list
from oumi_mcp_server.jobs.metrics import check_metrics_request, job_metrics
from oumi_mcp_server.jobs.models import (
    JobList,
    JobLogs,
    JobMetricsReport,
    JobStatusReport,
)
from oumi_mcp_server.jobs.naming import check_job_id
from oumi_mcp_server.jobs.policies.run_reports import restart_report
from oumi_mcp_server.jobs.reports import (
    STDERR_TAIL_LINES,
    STDOUT_TAIL_LINES,
    log_chunk,
    logs_next_step,
    status_report,
    summary,
)
from oumi_mcp_server.jobs.service_base import by_job_id
from oumi_mcp_server.jobs.service_clusters import JobClusters
from oumi_mcp_server.jobs.status import JobState

METRICS_TIMEOUT_S = 30.0  # reading (at most 8 MB a file) and drawing


class JobViews(JobClusters):
    async def exists(self, job_id: str) -> bool:
        """True when ``job_id`` (a valid id, else InvalidArgumentError) names a job of ours."""
        checked = check_job_id(job_id)
        return await registry_ops.call(lambda: self.registry.find(checked)) is not None

    async def status(self, job_id: str, cloud: str = "", cluster_name: str = "") -> JobStatusReport:
        """One job's live state; with ``cloud``, ``job_id`` is a launcher job id (anyone's)."""
        if cloud.strip():
            found = await self._launcher.lookup(job_id, cloud, cluster_name)
            if isinstance(found, JobStatusReport):
                return found
            job_id = found.job_id
        record = await self._record(job_id)
        backend = self._holder(record)
        runs = await self._runs([record])  # read once: the state and the attempts
        observation = (await self._as_runs([record], await backend.observe([record]), runs))[0]
        restarts, attempts = (
            restart_report(record, *runs[record.job_id]) if record.job_id in runs else (None, [])
        )
        tails: dict[str, list[str]] = {}
        diagnosed = None
        if observation.state is JobState.FAILED:
            tails = await backend.failure_output(record, STDERR_TAIL_LINES)
            diagnosed = await self._failure_diagnosis(record, observation)
        return status_report(
            record,
            observation,
            tails.get("stderr", [])[-STDERR_TAIL_LINES:],
            tails.get("stdout", [])[-STDOUT_TAIL_LINES:],
            cause=diagnosed.cause if diagnosed is not None else "",
            cause_summary=diagnosed.summary if diagnosed is not None else "",
        ).model_copy(
            update={
                "restarts": restarts,
                "attempts": attempts,
                **await self.guard_view(record, observation),
            }
        )

    async def list_jobs(self, status: str = "all", limit: int = 50, cloud: str = "") -> JobList:
        """Every job with its live state; ``cloud``: an oumi.launcher cloud to ask besides
        the usual ones (jobs/launcher/asked_clouds.py), e.g. one SkyPilot has not enabled."""
        wanted = check_status_filter(status)
        named = [check_cloud(cloud)] if cloud.strip() else []
        records = await registry_ops.call(self.registry.all)
        groups = self._by_engine(records)
        surveys = await asyncio.gather(*(backend.survey(group, named) for backend, group in groups))
        observed = by_job_id(groups, [survey.observations for survey in surveys])
        as_runs = await self._as_runs(records, [observed[record.job_id] for record in records])
        observed.update(zip((record.job_id for record in records), as_runs, strict=True))
        failed = [r for r in records if observed[r.job_id].state is JobState.FAILED]
        causes = await self._kept_causes(failed)  # shown once diagnosed; never computed here
        spend = await self.spend_of(records, observed)
        rows = [
            summary(
                record,
                observed[record.job_id],
                causes[record.job_id].cause if record.job_id in causes else "",
            ).model_copy(update={"cost_so_far_usd": spend.get(record.job_id)})
            for record in records
        ]
        rows += [row for survey in surveys for row in survey.foreign]
        return job_list(
            wanted,
            limit,
            rows,
            [
                *(warning for survey in surveys for warning in survey.warnings),
                *await self.idle_clusters(records, observed),
            ],
            [source for survey in surveys for source in survey.listed],
            [note for survey in surveys for note in survey.notes],
        )

    async def warm_listings(self, timeout_s: float) -> list[str]:
        """List once, each within ``timeout_s``, the clouds list_jobs will ask (a SkyPilot
        cloud's first call may start its API server), so that no list_jobs waits for that.
        Returns the sources that answered."""
        return await self._launcher.warm(timeout_s)

    async def live_states(
        self, job_ids: Collection[str] | None = None, final: Mapping[str, str] | None = None
    ) -> dict[str, str]:
        """Live state of our jobs (all of them, or those named that exist), by job id: what
        a watcher compares between polls. No tails, no jobs of others. ``final``: states
        already seen final (a final state never changes), kept without asking the engine."""
        final = final or {}
        records = await registry_ops.call(self.registry.all)
        if job_ids is not None:
            wanted = set(job_ids)
            records = [record for record in records if record.job_id in wanted]
        live = [record for record in records if record.job_id not in final]
        observations = await self._as_runs(live, await self._observe(live))
        states = {
            record.job_id: observation.state.value
            for record, observation in zip(live, observations, strict=True)
        }
        return {
            record.job_id: final.get(record.job_id) or states[record.job_id] for record in records
        }

    async def metrics(
        self, job_id: str, metrics: list[str], last_n: int = 0, chart: bool = True
    ) -> tuple[JobMetricsReport, bytes | None]:
        """The run's metric series, summary and (PNG) chart, read where the job ran: its
        output dir on this machine, else its logs (a cluster's, read within the log budget).
        Works while the job runs (a partial curve) and after."""
        names = check_metrics_request(metrics, last_n)
        status = await self.status(job_id)
        record = await self._record(job_id)
        reads: list[LogRead] = []
        if not (record.is_process or record.is_pending):  # its engine reads its logs
            reads = await self._holder(record).logs(
                record, ("stdout", "stderr"), lines=MAX_LOG_LINES, offset=None
            )
        report, png = await run_blocking(
            lambda: job_metrics(record, status, reads, names, last_n=last_n, chart=chart),
            timeout_s=METRICS_TIMEOUT_S,
            what="Reading the run's metrics and drawing its chart",
        )
        await self.keep_throughput(record, report)
        return report, png

    async def logs(
        self, job_id: str, lines: int = 200, stream: str = "both", offset: int | None = None
    ) -> JobLogs:
        streams = check_log_request(stream, lines, offset)
        record = await self._record(job_id)
        backend = self._holder(record)
        observations, reads = await asyncio.gather(
            backend.observe([record]),
            backend.logs(record, streams, lines=lines, offset=offset),
        )
        state = observations[0].state
        chunks = [log_chunk(read) for read in reads]
        next_offset, next_step = logs_next_step(record.job_id, chunks, state, offset is not None)
        return JobLogs(
            job_id=record.job_id,
            state=state.value,
            chunks=chunks,
            next_offset=next_offset,
            next_step=next_step,
        )
