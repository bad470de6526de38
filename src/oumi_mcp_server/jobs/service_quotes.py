"""JobService's prices: the quote of a launch (jobs/pricing.py: SkyPilot's offline
catalogs, or the person's price), a training's estimated length from a speed measured on
the same hardware (jobs/throughput.py), and a launch refused over its budget.

The quote is kept with the guards in the registry (service_guards.py), so the spend so
far is that price times the hours the job has run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import InvalidArgumentError, OumiMcpError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.checks import ConfigSource, read_config
from oumi_mcp_server.jobs.models import JobMetricsReport, RunJobResult
from oumi_mcp_server.jobs.policies.guards import Guards, launch_refusal
from oumi_mcp_server.jobs.pricing import Quote
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.service_restarts import JobRestarts
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
MEASURED_JOBS_LOOKED_AT = 20  # the newest runs of the same config looked at for a speed


class JobQuotes(JobRestarts):
    async def quote(
        self,
        result: RunJobResult,
        guards: Guards | None,
        args: CheckedArgs,
        source: ConfigSource,
    ) -> CostQuote | None:
        """The dry run's (and the launch's) price: from the job config the launch runs;
        for a training (``source``: its config as read for the run), how long it will take
        where a throughput was measured."""
        cost = await self._quote(result.job_config or {}, result.cloud, guards)
        if cost is None or args.command != TRAIN_COMMAND or source.is_job_config:
            return cost  # a job config's run block says what runs
        hardware = hardware_of(result.cloud, result.job_config)
        steps = planned_steps(source.document.data, args.overrides)
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
        state_dir = self._settings.state_dir

        def newest() -> Measured | None:
            for record in same:
                run_dir = RunDir.of(record)
                first = RunDir.for_job(state_dir, record.job_id)  # a restart's first attempt
                asked = run_dir.read(HARDWARE_FILE) or first.read(HARDWARE_FILE)
                if Hardware.from_dict(asked) != hardware:
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
        asked = hardware_of(cloud, job)
        where = "" if asked.cloud == "local" and not job else asked.cloud
        resources = job.get("resources")
        use_spot = isinstance(resources, Mapping) and bool(resources.get("use_spot"))
        price = guards.price_per_hour_usd if guards is not None else None
        pricer = self._pricer
        quote = await run_blocking(
            lambda: pricer.quote(
                where, asked.accelerators, use_spot=use_spot, nodes=asked.nodes, price=price
            ),
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
