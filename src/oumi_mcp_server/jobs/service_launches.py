"""JobService's launches: check, plan and (unless a dry run) start one job.

A launch is accepted (its id reserved) before its checks run, so it can be seen
and cancelled at once; a repeated request with the same job_name returns the job
it started (acceptance.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs import registry as registry_ops
from oumi_mcp_server.jobs.acceptance import (
    Existing,
    Request,
    accept,
    hand_over,
    named_job,
    withdraw,
)
from oumi_mcp_server.jobs.arguments import (
    CloudResources,
    check_arguments,
)
from oumi_mcp_server.jobs.backend import (
    JobBackend,
    LaunchPlan,
)
from oumi_mcp_server.jobs.checks import ConfigSource, read_config
from oumi_mcp_server.jobs.kinds import kind_of
from oumi_mcp_server.jobs.models import RelaunchResult, RunJobResult
from oumi_mcp_server.jobs.policies.guards import Guards
from oumi_mcp_server.jobs.policies.restarts import (
    RestartPolicy,
    RestartRequest,
    check_restart_arguments,
)
from oumi_mcp_server.jobs.policies.run_reports import restart_policy_report
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.registry_damage import RegistryDamagedError
from oumi_mcp_server.jobs.relaunch import (
    missing_envs,
    plan_relaunch,
    relaunch_result,
    replayed_overrides,
    write_new_config,
)
from oumi_mcp_server.jobs.reports import (
    cancelled_before_start,
    existing_job_result,
)
from oumi_mcp_server.jobs.service_guards import JobGuards
from oumi_mcp_server.jobs.status import is_terminal
from oumi_mcp_server.paths import resolve_client_cwd
from oumi_mcp_server.settings import CONFIG_READ_TIMEOUT_S
from oumi_mcp_server.validation.documents import deadline_after


class JobLaunches(JobGuards):
    async def run(
        self,
        config_path: str,
        command: str,
        client_cwd: str,
        *,
        dry_run: bool = True,
        job_name: str = "",
        cloud: str = "",
        cluster_name: str = "",
        envs: Mapping[str, str] | None = None,
        overrides: Sequence[str] | None = None,
        resources: CloudResources | None = None,
        max_restarts: int = 0,
        restart_on: Sequence[str] | None = None,
        guards: Guards | None = None,
    ) -> RunJobResult:
        """Check, plan and (unless a dry run, or blocked by the checks) launch one job;
        with ``max_restarts``, a run until done (service_restarts.py).

        A launch is accepted (its id reserved) before its checks run, so it can be seen
        and cancelled at once; a repeated request with the same job_name returns the job
        it started (acceptance.py)."""
        args = check_arguments(
            command,
            job_name=job_name,
            cloud=cloud,
            cluster_name=cluster_name,
            envs=envs or {},
            overrides=overrides or [],
            resources=resources,
        )
        reasons = check_restart_arguments(max_restarts, restart_on)
        policy = None
        if max_restarts > 0:
            request_kept = RestartRequest(
                command=args.command,
                cloud=args.cloud,
                cluster_name=args.cluster_name,
                overrides=tuple(f"{item.key}={item.value}" for item in args.overrides),
                resources=asdict(args.resources),
                env_names=tuple(sorted(args.envs)),
            )
            policy = RestartPolicy(
                max_restarts, reasons, request_kept, self._settings.restart_backoff_s
            )
        guards = guards if guards is not None and guards.any else None
        request = Request(args, config_path, client_cwd)
        if not dry_run:
            accepted = asyncio.Event()
            if not args.id_generated:  # before any await: known from this moment
                self._accepting.setdefault(args.job_id, accepted)
            try:
                result = await self._launch(request, accepted, policy, guards)
            finally:
                accepted.set()
                if self._accepting.get(args.job_id) is accepted:
                    del self._accepting[args.job_id]
        else:
            source = await read_config(config_path, client_cwd, self._config_roots)
            result = await self._dry_run(request, source)
            if guards is not None or result.job_config:
                cost = await self.quote(result, guards, args, source)
                result = result.model_copy(update={"cost": cost})
        if policy is None:
            return result
        return result.model_copy(update={"restarts": restart_policy_report(policy, result)})

    async def _dry_run(self, request: Request, source: ConfigSource | None = None) -> RunJobResult:
        """What the request would run, checked; ``source``: its config already read (for
        a relaunch: the patched config, not written yet)."""
        args = request.args
        # A dry run tells the truth about a taken name too (and works without the registry).
        damaged: RegistryDamagedError | None = None
        try:
            existing = await registry_ops.call(lambda: named_job(self.registry, request))
        except RegistryDamagedError as exc:
            existing, damaged = None, exc
        if source is None:
            source = await read_config(request.config_path, request.client_cwd, self._config_roots)
        backend = self._engine_for(args.cloud, source)
        plan: LaunchPlan = await backend.plan(args, source)
        result = plan.result(await self._checks.check(source, plan, args.envs), None, dry_run=True)
        if damaged is not None:
            return result.model_copy(
                update={"message": f"{result.message} Launching would fail: {damaged.describe()}"}
            )
        if existing is None:
            return result
        return result.model_copy(
            update={
                "message": f"{result.message} A job named '{existing.job_id}' was launched with "
                "this same request already: launching would return it, not start another."
            }
        )

    async def _launch(
        self,
        request: Request,
        announced: asyncio.Event,
        policy: RestartPolicy | None = None,
        guards: Guards | None = None,
    ) -> RunJobResult:
        await self.ensure_reconciled()  # earlier processes' jobs are recovered first
        state_dir = self._settings.state_dir
        try:
            accepted = await registry_ops.call(
                lambda: accept(self.registry, request, state_dir, self._owner)
            )
        finally:
            announced.set()  # the record exists (or never will): waiters may look
        if isinstance(accepted, Existing):
            return await self._existing(accepted.record)
        args, pending = accepted.args, accepted.record
        try:
            source = await read_config(request.config_path, request.client_cwd, self._config_roots)
            backend = self._engine_for(args.cloud, source)
            plan: LaunchPlan = await backend.plan(args, source)
            checks = await self._checks.check(source, plan, args.envs)
            if checks.blocking:
                await self._withdraw(pending)
                return plan.result(checks, None, dry_run=False)
            cost = None
            planned = plan.result(checks, None, dry_run=True)
            if guards is not None:  # priced before anything starts: over budget is refused
                cost = await self.quote(planned, guards, args, source)
                self.refuse_over_budget(guards, cost)
            started = await registry_ops.call(
                lambda: hand_over(self.registry, pending, plan.record(), source.document)
            )
        except BaseException:
            await self._withdraw(pending)
            raise
        if started is None:
            return cancelled_before_start(plan.result(checks, None, dry_run=False))
        await self.keep_hardware(started, planned)
        if policy is not None:
            await self.keep_run_policy(started, policy, args.envs)
        own = not args.cluster_name and kind_of(started.cloud).bills_until_stopped
        own = own and not started.is_process
        if guards is not None:
            await self.keep_guards(started, guards, cost, own)
        elif own:
            await self.keep_own_cluster(started)
        observation = await backend.launch(plan, started)
        return plan.result(checks, observation, dry_run=False).model_copy(update={"cost": cost})

    async def _withdraw(self, pending: JobRecord) -> None:
        """No job is left by a launch that will not happen (unless it was cancelled)."""
        state_dir = self._settings.state_dir
        await asyncio.shield(registry_ops.call(lambda: withdraw(self.registry, pending, state_dir)))

    async def _existing(self, record: JobRecord) -> RunJobResult:
        observation = (await self._holder(record).observe([record]))[0]
        return existing_job_result(record, observation)

    def _engine_for(self, cloud: str, source: ConfigSource) -> JobBackend[Any]:
        """oumi.launcher for a cloud or for a job config (its local cloud included); our own
        process backend for a command's config run here (cloud '' or 'local')."""
        if (cloud and not kind_of(cloud).runs_here) or source.is_job_config:
            return self._launcher
        return self._process

    async def relaunch(
        self,
        job_id: str,
        *,
        apply_fix: bool = True,
        dry_run: bool = True,
        envs: Mapping[str, str] | None = None,
    ) -> RelaunchResult:
        """A finished job again: its config as it ran, with the diagnosis's fix (a new file
        beside the original; a dry run only names it), on the same engine, command, cloud,
        cluster and overrides. Env values are never kept: the original's must be given again."""
        record = await self._record(job_id)
        observation = (await self._holder(record).observe([record]))[0]
        job = f"job_id='{record.job_id}'"
        if not is_terminal(observation.state) or not record.staged_config_path:
            raise InvalidArgumentError(
                "job_id",
                f"job {record.job_id} is {observation.state.value}: only a finished job that "
                "started can be relaunched.",
                next_step=f"Wait for it to end (or cancel_job({job})), then relaunch it.",
            )
        diagnosis = await self.diagnose(record.job_id) if apply_fix else None
        deadline = deadline_after(CONFIG_READ_TIMEOUT_S)
        cwd, plan = await run_blocking(
            lambda: (
                resolve_client_cwd(record.client_cwd),
                plan_relaunch(record, diagnosis, deadline),
            ),
            timeout_s=CONFIG_READ_TIMEOUT_S,
            what="Reading the job's config",
        )
        given = dict(envs or {})
        missing = missing_envs(record, given)
        if missing and not dry_run:
            raise InvalidArgumentError(
                "envs",
                f"job {record.job_id} ran with {', '.join(missing)}; their values are never "
                "kept, so they cannot be replayed.",
                next_step="Pass them again in envs (the same values, or new ones).",
            )
        overrides = replayed_overrides(record, plan.patch)
        cloud = "" if record.is_process else record.cloud
        if dry_run:
            args = check_arguments(
                record.command,
                job_name="",
                cloud=cloud,
                cluster_name=record.cluster_name,
                envs=given,
                overrides=overrides,
            )
            source = ConfigSource(cwd, plan.document, self._config_roots)
            run = await self._dry_run(Request(args, str(plan.target), record.client_cwd), source)
            return relaunch_result(record, diagnosis, plan, plan.target, run, given, missing)
        target = await run_blocking(
            lambda: write_new_config(plan),
            timeout_s=CONFIG_READ_TIMEOUT_S,
            what="Writing the new config",
        )
        run = await self.run(
            str(target),
            record.command,
            record.client_cwd,
            dry_run=False,
            cloud=cloud,
            cluster_name=record.cluster_name,
            envs=given,
            overrides=overrides,
        )
        return relaunch_result(record, diagnosis, plan, target, run, given, missing)
