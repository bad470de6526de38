"""Local runs: ``oumi <command>`` in its own process group, through the process backend."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self, TypeVar

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.backends.base import LaunchSpec, Observation
from oumi_mcp_server.jobs.backends.local import LocalBackend
from oumi_mcp_server.jobs.catalog import COMMAND_KIND
from oumi_mcp_server.jobs.launch import CheckedArgs, Plan, make_plan, summarize_checks
from oumi_mcp_server.jobs.models import CheckSummary, RunJobResult
from oumi_mcp_server.jobs.naming import generate_job_id
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry import JobIdTakenError, Registry
from oumi_mcp_server.jobs.reports import run_result
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.jobs.runtime import RuntimeTable
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import JOB_SUPERVISE_POLL_S, REGISTRY_TIMEOUT_S, Settings
from oumi_mcp_server.validation.service import ValidationService

MAX_ID_ATTEMPTS = 5
PlanT = TypeVar("PlanT", bound="Reservable")


class Reservable(Protocol):
    """A launch plan (local or cloud) that can be re-targeted to another job id."""

    @property
    def config(self) -> Path: ...

    @property
    def run(self) -> RunDir: ...

    def record(self) -> JobRecord: ...

    def with_job_id(self, job_id: str, state_dir: Path) -> Self: ...


async def reserve(
    registry: Registry, args: CheckedArgs, plan: PlanT, state_dir: Path
) -> tuple[JobRecord, PlanT]:
    """Add the record (before anything starts), create its run dir, stage the config.

    A taken generated id is replaced by a fresh one; a taken chosen name is an
    error. Returns the record and the plan for the id that was reserved.
    """
    for attempt in range(MAX_ID_ATTEMPTS):
        job_id = args.job_id if attempt == 0 else generate_job_id(args.command)
        current = plan.with_job_id(job_id, state_dir)
        record = current.record()

        def add(r: JobRecord = record, p: PlanT = current) -> None:
            registry.add(r)
            try:
                p.run.create()
            except FileExistsError:
                registry.delete([r.job_id])
                raise JobIdTakenError(r.job_id) from None
            p.run.stage(p.config)

        try:
            await registry_ops.call(add)
        except JobIdTakenError:
            if not args.id_generated:
                raise
            continue
        return record, current
    raise JobIdTakenError(args.job_id)


@dataclass(frozen=True)
class RunServices:
    """What launching needs besides an engine: settings, checks, identity, runtimes."""

    settings: Settings
    validation: ValidationService
    preflight: PreflightService
    registry: Registry
    runtimes: RuntimeTable


class LocalRuns:
    def __init__(self, services: RunServices, backend: LocalBackend) -> None:
        self._services = services
        self._backend = backend

    async def run(
        self,
        args: CheckedArgs,
        config_path: str,
        client_cwd: str,
        *,
        dry_run: bool,
        observe: Callable[[JobRecord], Awaitable[Observation]],
    ) -> RunJobResult:
        oumi = self._backend.oumi_executable()
        state_dir = self._services.settings.state_dir
        plan = await run_blocking(
            lambda: make_plan(args, config_path, client_cwd, state_dir, oumi),
            timeout_s=REGISTRY_TIMEOUT_S,
            what="Reading the config",
        )
        checks = await self._checks(plan)
        if dry_run or checks.blocking:
            return run_result(plan, checks, None, dry_run=dry_run)

        record, plan = await reserve(self._services.registry, args, plan, state_dir)
        runtime = self._services.runtimes.create(record.job_id)
        task = asyncio.ensure_future(self._start(record, plan))
        runtime.launch_task = task
        try:
            launched = await asyncio.shield(task)
        except BaseException:
            if task.done():
                self._services.runtimes.evict_runtime(record.job_id)
            raise
        observation = await observe(launched)
        return run_result(plan, checks, observation, dry_run=False)

    async def _checks(self, plan: Plan) -> CheckSummary:
        config, cwd = str(plan.config), str(plan.cwd)
        validation, preflight = await asyncio.gather(
            self._services.validation.validate(config, cwd, COMMAND_KIND[plan.args.command]),
            self._services.preflight.check(config, cwd, "local"),
        )
        return summarize_checks(validation, preflight)

    async def _start(self, record: JobRecord, plan: Plan) -> JobRecord:
        """Spawn the job, record its process identity, hand it to a supervisor."""
        runtime = self._services.runtimes.create(record.job_id)
        spec = LaunchSpec(record, plan.argv, plan.env_additions)
        try:
            launched = await self._backend.launch(spec, runtime)
        except BaseException:
            self._services.runtimes.evict_runtime(record.job_id)
            raise
        pid, started = launched.pid, launched.process_start_time
        if pid is not None and started is not None:
            await registry_ops.call(
                lambda: self._services.registry.set_process(record.job_id, pid, started)
            )
        runtime.launch_task = None
        runtime.supervisor = asyncio.ensure_future(self._supervise(record.job_id))
        return launched

    async def _supervise(self, job_id: str) -> None:
        """Await the process's exit, then evict the job's runtime."""
        try:
            while True:
                runtime = self._services.runtimes.get(job_id)
                if runtime is None or runtime.process is None or runtime.process_exited():
                    break
                await asyncio.sleep(JOB_SUPERVISE_POLL_S)
        finally:
            self._services.runtimes.evict_runtime(job_id)
