"""JobService's guards and health: spend so far, and stopping a job whose guard trips
(jobs/policies/guards.py).

A launch's price (service_quotes.py) is kept with its guards in the registry, so the
spend so far is that price times the hours the job has run. The guard loop (at the
watcher's pace, beside the restart loop of service_restarts.py) looks at every guarded
job that runs: hours, spend, how long its output has been quiet, whether its loss went
NaN. A trip is recorded once (whichever server sees it first), stops restarts, cancels
the job and, when asked, stops or deletes a cluster the server launched for it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import OumiMcpError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs import registry_runs
from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.policies.guards import (
    Guards,
    Progress,
    check,
    health,
    nan_since,
)
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.service_quotes import JobQuotes
from oumi_mcp_server.jobs.service_restarts import PolicyLoop
from oumi_mcp_server.jobs.status import JobState
from oumi_mcp_server.preflight.models import CostQuote

logger = logging.getLogger(__name__)

HEALTH_LOG_LINES = 200
GUARD_REMOTE_LOG_EVERY_S = 5.0  # a cluster job's log is read this often for stall/NaN


class JobGuards(JobQuotes):
    # self._quiet, per job: a fingerprint of its output and since when it has not changed
    # (this server's own look; a new server starts counting afresh).

    async def keep_guards(
        self, record: JobRecord, guards: Guards, cost: CostQuote | None, own_cluster: bool
    ) -> None:
        text = guards.model_dump_json()
        hourly = cost.total_hourly_usd if cost is not None else None
        job_id = record.job_id
        await registry_ops.call(
            lambda: registry_runs.set_guards(self.registry, job_id, text, hourly, own_cluster)
        )

    async def keep_own_cluster(self, record: JobRecord) -> None:
        job_id = record.job_id
        await registry_ops.call(lambda: registry_runs.mark_own_cluster(self.registry, job_id))

    # -- the loop ------------------------------------------------------------------------

    def _policy_loops(self) -> list[PolicyLoop]:
        """Guards are checked at the watcher's pace (OUMI_MCP_GUARD_POLL_S), apart from
        the restarts: a trip waits for no restart pass."""
        return [
            *super()._policy_loops(),
            ("Guards", self._settings.guard_poll_s, self.drive_guards),
        ]

    async def drive_guards(self, now: float | None = None) -> list[str]:
        """One pass over the guarded jobs that run: the job ids a guard stopped."""
        rows = await registry_ops.call(lambda: registry_runs.guarded(self.registry))
        armed = [job_id for job_id, row in rows.items() if not row.stopped_by]
        found = await registry_ops.call(partial(self.registry.find_many, armed))
        records = [record for record in found if not record.is_pending]
        observed = await self._observe(records)  # an ended attempt: from memory, no engine call
        tripped = []
        for record, observation in zip(records, observed, strict=True):
            if observation.state is not JobState.RUNNING:
                continue
            job_id, row = record.job_id, rows[record.job_id]
            guards = Guards.model_validate_json(row.guards)
            reads_logs = self._log_read_due(record, guards)
            progress = await self._progress(record, observation, row.hourly_usd, now, reads_logs)
            trip = check(guards, progress)
            if trip is None:
                continue
            won = await registry_ops.call(
                partial(
                    registry_runs.record_trip, self.registry, job_id, trip.stopped_by, trip.reason
                )
            )
            if not won:
                continue
            await self._act_on_trip(record, guards, trip.stopped_by, trip.reason, row.own_cluster)
            tripped.append(job_id)
        return tripped

    async def _act_on_trip(
        self, record: JobRecord, guards: Guards, stopped_by: str, reason: str, own: bool
    ) -> None:
        done = [f"guard {stopped_by} tripped ({reason})"]
        cancelled = await self.cancel(record.job_id)
        done.append(f"cancel: {cancelled.action}")
        if guards.on_trip != "cancel" and not record.is_process:
            if own and kind_of(record.cloud).bills_until_stopped:
                how: Literal["stop", "down"] = (
                    "stop" if guards.on_trip == "stop_cluster" else "down"
                )
                try:
                    done.append(await self._launcher.release_cluster(record, how))
                except OumiMcpError as exc:
                    done.append(f"{guards.on_trip} failed: {exc.message}")
            else:
                done.append(f"{guards.on_trip} skipped: the server did not launch that cluster")
        logger.warning("Job %s: %s", record.job_id, "; ".join(done))
        self._audit(record.job_id, record.attempt, "; ".join(done), tool="guard")

    # -- what a look at a running job finds --------------------------------------------

    def _log_read_due(self, record: JobRecord, guards: Guards) -> bool:
        """Whether this pass reads the job's log: only for stall_minutes or stop_on_nan; a
        process job's files each pass, a cluster's log (a remote read) at most every
        GUARD_REMOTE_LOG_EVERY_S."""
        if guards.stall_minutes is None and not guards.stop_on_nan:
            return False
        if record.is_process:
            return True
        last = self._guard_log_reads.get(record.attempt_key)
        if last is not None and time.monotonic() - last < GUARD_REMOTE_LOG_EVERY_S:
            return False
        self._guard_log_reads[record.attempt_key] = time.monotonic()
        return True

    async def _progress(
        self,
        record: JobRecord,
        observation: Observation,
        hourly_usd: float | None,
        now: float | None = None,
        reads_logs: bool = True,
    ) -> Progress:
        moment = time.time() if now is None else now
        started = observation.started_at or record.submitted_at
        ended = observation.ended_at or moment
        hours = max(0.0, ended - started) / 3600
        spend = hourly_usd * hours if hourly_usd is not None else None
        if not reads_logs:
            return Progress(hours, spend, None, None)  # stall and NaN: not looked at now
        lines: list[str] = []
        try:
            reads = await self._holder(record).logs(
                record, ("stdout", "stderr"), lines=HEALTH_LOG_LINES, offset=None
            )
            lines = [line for read in reads for line in read.page.text.splitlines()]
        except OumiMcpError:
            pass  # unreadable now: no NaN seen, quiet unknown
        quiet = await self._quiet_minutes(record, lines, moment)
        return Progress(hours, spend, quiet, nan_since(lines))

    async def _quiet_minutes(self, record: JobRecord, lines: list[str], now: float) -> float | None:
        """Minutes since the job's output last changed: from its files' times when they are
        here, else since this server first saw the output as it is now."""
        if record.is_process:
            paths = [path for path in (record.stdout_path, record.stderr_path) if path]
            newest = await run_blocking(
                lambda: _newest_mtime(paths), timeout_s=10.0, what="Reading the job's logs"
            )
            if newest is not None:
                return max(0.0, now - newest) / 60
        quiet = self._quiet
        fingerprint = hashlib.sha256("\n".join(lines[-20:]).encode()).hexdigest()
        seen = quiet.get(record.attempt_key)
        if seen is None or seen[0] != fingerprint:
            quiet[record.attempt_key] = (fingerprint, now)
            return 0.0 if seen is not None else None
        return max(0.0, now - seen[1]) / 60

    async def guard_view(self, record: JobRecord, observation: Observation) -> dict[str, Any]:
        """get_job_status's guards, spend so far and health warnings for one job."""
        rows = await registry_ops.call(
            lambda: registry_runs.guarded(self.registry, {record.job_id})
        )
        row = rows.get(record.job_id)
        guards = Guards.model_validate_json(row.guards) if row is not None else None
        view: dict[str, Any] = {}
        if row is not None:
            view["guards"] = guards
            view["stopped_by"] = row.stopped_by
            view["stop_reason"] = row.stop_reason
        if observation.state is JobState.RUNNING or (row is not None and row.hourly_usd):
            progress = await self._progress(
                record, observation, row.hourly_usd if row is not None else None
            )
            if row is not None and row.hourly_usd is not None:
                view["cost_so_far_usd"] = round(progress.spend_usd or 0.0, 4)
            if observation.state is JobState.RUNNING:
                view["health"] = health(progress, guards)
        return view

    async def spend_of(
        self, records: Sequence[JobRecord], observed: dict[str, Observation]
    ) -> dict[str, float]:
        """list_jobs: the spend so far of priced jobs, by job id."""
        ids = {record.job_id for record in records}
        rows = await registry_ops.call(lambda: registry_runs.guarded(self.registry, ids))
        spend = {}
        now = time.time()
        for record in records:
            row = rows.get(record.job_id)
            if row is None or row.hourly_usd is None:
                continue
            seen = observed[record.job_id]
            started = seen.started_at or record.submitted_at
            hours = max(0.0, (seen.ended_at or now) - started) / 3600
            spend[record.job_id] = round(row.hourly_usd * hours, 4)
        return spend


def _newest_mtime(paths: Sequence[str]) -> float | None:
    times = []
    for path in paths:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            continue
    return max(times) if times else None
