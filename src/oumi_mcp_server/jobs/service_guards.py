"""JobService's guards and health: price quotes, spend so far, and stopping a job whose
guard trips (jobs/policies/guards.py).

The price of a launch comes from the pricer (jobs/pricing.py: SkyPilot's offline
catalogs, or the person's price) and is kept with the guards in the registry, so the
spend so far is that price times the hours the job has run. The policy loop
(service_restarts.py) looks at every guarded job that runs: hours, spend, how long its
output has been quiet, whether its loss went NaN. A trip is recorded once (whichever
server sees it first), stops restarts, cancels the job and, when asked, stops or
deletes a cluster the server launched for it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Literal

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import InvalidArgumentError, OumiMcpError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs import registry_runs
from oumi_mcp_server.jobs.acceptance import Request
from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.checks import read_config
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import JobMetricsReport, RunJobResult
from oumi_mcp_server.jobs.policies.guards import (
    Guards,
    Progress,
    check,
    health,
    launch_refusal,
    nan_since,
)
from oumi_mcp_server.jobs.pricing import Quote
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service_restarts import JobRestarts
from oumi_mcp_server.jobs.status import JobState
from oumi_mcp_server.jobs.throughput import (
    HARDWARE_FILE,
    THROUGHPUT_FILE,
    TRAIN_COMMAND,
    Estimate,
    Hardware,
    Measured,
    estimate,
    hardware_of,
    planned_steps,
)
from oumi_mcp_server.preflight.models import CostQuote

logger = logging.getLogger(__name__)

PRICE_TIMEOUT_S = 60.0  # the first quote imports sky
HEALTH_LOG_LINES = 200
MEASURED_JOBS_LOOKED_AT = 20  # the newest runs of the same config looked at for a speed


class JobGuards(JobRestarts):
    # self._quiet, per job: a fingerprint of its output and since when it has not changed
    # (this server's own look; a new server starts counting afresh).

    # -- quotes ------------------------------------------------------------------------

    async def quote(
        self, result: RunJobResult, guards: Guards | None, request: Request
    ) -> CostQuote | None:
        """The dry run's (and the launch's) price: from the job config the launch runs;
        for a training, how long it will take where a throughput was measured."""
        cost = await self._quote(result.job_config or {}, result.cloud, guards)
        if cost is None or request.args.command != TRAIN_COMMAND:
            return cost
        source = await read_config(request.config_path, request.client_cwd, self._config_roots)
        if source.is_job_config:
            return cost  # its run block says what runs
        hardware = hardware_of(result.cloud, result.job_config)
        steps = planned_steps(source.document.data, request.args.overrides)
        measured = await self._measured(result, hardware) if steps else None
        return with_estimate(cost, estimate(steps, measured, hardware))

    async def _measured(self, result: RunJobResult, hardware: Hardware) -> Measured | None:
        """The newest throughput measured by a job of the same config and command on the
        same hardware (throughput.py)."""
        records = await registry_ops.call(self.registry.all)
        same = [
            record
            for record in records
            if record.config_path == result.config_path and record.command == result.command
        ][:MEASURED_JOBS_LOOKED_AT]

        def newest() -> Measured | None:
            for record in same:
                run_dir = RunDir.of(record)
                if Hardware.from_dict(run_dir.read(HARDWARE_FILE)) != hardware:
                    continue
                measured = Measured.from_dict(run_dir.read(THROUGHPUT_FILE), record.job_id)
                if measured is not None:
                    return measured
            return None

        return await run_blocking(newest, timeout_s=10.0, what="Reading measured throughputs")

    async def keep_hardware(self, record: JobRecord, result: RunJobResult) -> None:
        """A launch keeps the hardware it asked for, for later estimates (throughput.py);
        a failure costs only the estimate, never the launch."""
        await self._keep(record, HARDWARE_FILE, hardware_of(result.cloud, result.job_config))

    async def keep_throughput(self, record: JobRecord, report: JobMetricsReport) -> None:
        """get_job_metrics keeps the speed the metrics show, for later estimates."""
        summary = report.summary
        if summary is not None and summary.steps_per_second:
            measured = Measured(summary.steps_per_second, summary.steps_per_second_source)
            await self._keep(record, THROUGHPUT_FILE, measured)

    async def _keep(self, record: JobRecord, name: str, data: Hardware | Measured) -> None:
        try:
            await run_blocking(
                lambda: RunDir.of(record).write(name, data.as_dict()),
                timeout_s=10.0,
                what="Writing the job's run dir",
            )
        except (OSError, OumiMcpError) as exc:
            logger.warning("Job %s: %s not kept: %s", record.job_id, name, exc)

    async def _quote(
        self, job: Mapping[str, Any], cloud: str, guards: Guards | None
    ) -> CostQuote | None:
        if self._pricer is None:
            return None
        given = job.get("resources")
        resources: Mapping[str, Any] = given if isinstance(given, Mapping) else {}
        cloud = str(resources.get("cloud") or cloud or "")
        cloud = "" if cloud == "local" and not job else cloud
        accelerators = str(resources.get("accelerators") or "")
        nodes = int(job.get("num_nodes") or 1)
        use_spot = bool(resources.get("use_spot"))
        price = guards.price_per_hour_usd if guards is not None else None
        pricer = self._pricer
        quote = await run_blocking(
            lambda: pricer.quote(cloud, accelerators, use_spot=use_spot, nodes=nodes, price=price),
            timeout_s=PRICE_TIMEOUT_S,
            what="Looking up the price",
        )
        return cost_quote(quote, guards)

    async def quote_config(self, config_path: str, client_cwd: str, cloud: str) -> CostQuote | None:
        """pre_flight_check: the price of a job config's resources (None for a command's
        config: its accelerators are run_oumi_job's arguments)."""
        if self._pricer is None:
            return None
        source = await read_config(config_path, client_cwd, self._config_roots)
        if not source.is_job_config:
            return None
        return await self._quote(source.document.data, cloud, None)

    def refuse_over_budget(self, guards: Guards | None, cost: CostQuote | None) -> None:
        if guards is None or cost is None:
            return
        why = launch_refusal(guards, cost.total_hourly_usd, cost.estimated_total_usd)
        if why:
            raise InvalidArgumentError(
                "guards",
                f"{why}: the launch would overspend.",
                next_step="Raise max_cost_usd, lower max_hours, or ask for fewer/cheaper "
                "accelerators (the dry run shows the quote).",
            )

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

    async def _policy_pass(self) -> None:
        await super()._policy_pass()
        await self.drive_guards()

    async def drive_guards(self, now: float | None = None) -> list[str]:
        """One pass over the guarded jobs that run: the job ids a guard stopped."""
        rows = await registry_ops.call(lambda: registry_runs.guarded(self.registry))
        tripped = []
        for job_id, row in rows.items():
            if row.stopped_by:
                continue
            record = await registry_ops.call(partial(self.registry.find, job_id))
            if record is None or record.is_pending:
                continue
            guards = Guards.model_validate_json(row.guards)
            observation = (await self._holder(record).observe([record]))[0]
            if observation.state is not JobState.RUNNING:
                continue
            progress = await self._progress(record, observation, row.hourly_usd, now)
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

    async def _progress(
        self,
        record: JobRecord,
        observation: Observation,
        hourly_usd: float | None,
        now: float | None = None,
    ) -> Progress:
        moment = time.time() if now is None else now
        started = observation.started_at or record.submitted_at
        ended = observation.ended_at or moment
        hours = max(0.0, ended - started) / 3600
        spend = hourly_usd * hours if hourly_usd is not None else None
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


def cost_quote(quote: Quote, guards: Guards | None) -> CostQuote:
    total = quote.total_hourly_usd
    bound = guards.max_hours if guards is not None else None
    return CostQuote(
        hourly_usd=quote.hourly_usd,
        spot_hourly_usd=quote.spot_hourly_usd,
        instance_type=quote.instance_type,
        region=quote.region,
        nodes=quote.nodes,
        total_hourly_usd=total,
        gpu_hours_per_hour=quote.gpus * quote.nodes if quote.gpus else None,
        max_hours=bound,
        max_total_usd=round(total * bound, 2) if total is not None and bound else None,
        source=quote.source,
        note=quote.note
        or (f"At most {bound:g} h (guards.max_hours)." if bound else "No guards.max_hours set."),
    )


def with_estimate(cost: CostQuote, found: Estimate) -> CostQuote:
    """The quote with the run's estimated length and total (throughput.py)."""
    total = cost.total_hourly_usd
    hours = found.hours
    return cost.model_copy(
        update={
            "estimated_hours": hours,
            "estimated_total_usd": round(total * hours, 2)
            if hours is not None and total is not None
            else None,
            "estimate_basis": found.basis,
        }
    )


def _newest_mtime(paths: Sequence[str]) -> float | None:
    times = []
    for path in paths:
        try:
            times.append(os.stat(path).st_mtime)
        except OSError:
            continue
    return max(times) if times else None
