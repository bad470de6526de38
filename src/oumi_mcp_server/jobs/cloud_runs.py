"""Cloud runs: hand a job config to oumi.launcher without ever waiting for it.

The record (identity only, no launcher job id yet) is saved first; ``up``
then runs in the background and the tool answers at once with "launching".
When ``up`` returns, the launch thread records the launcher's job id and the
runtime is evicted: from then on, everything comes from the launcher.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs.backends.base import LaunchSpec
from oumi_mcp_server.jobs.backends.launcher import LauncherBackend
from oumi_mcp_server.jobs.cloud_plan import REMINDER, CloudPlan, CloudResources, make_cloud_plan
from oumi_mcp_server.jobs.launch import CheckedArgs, summarize_checks
from oumi_mcp_server.jobs.local_runs import RunServices, reserve
from oumi_mcp_server.jobs.models import CheckSummary, RunJobResult
from oumi_mcp_server.jobs.records import JobRecord
from oumi_mcp_server.jobs.runtime import JobRuntime
from oumi_mcp_server.jobs.status import JobState
from oumi_mcp_server.launcher.jobspec import LOCAL_CLOUD
from oumi_mcp_server.launcher.sync import SyncSummary, excluded_by_skypilot, summarize_sync
from oumi_mcp_server.settings import REGISTRY_TIMEOUT_S

logger = logging.getLogger(__name__)

SYNC_SUMMARY_TIMEOUT_S = 30.0


class CloudRuns:
    def __init__(self, services: RunServices, backend: LauncherBackend) -> None:
        self._services = services
        self._backend = backend

    async def run(
        self,
        args: CheckedArgs,
        config_path: str,
        client_cwd: str,
        *,
        dry_run: bool,
        cluster_name: str,
        resources: CloudResources,
    ) -> RunJobResult:
        state_dir = self._services.settings.state_dir
        plan = await run_blocking(
            lambda: make_cloud_plan(
                args, config_path, client_cwd, state_dir, cluster_name, resources
            ),
            timeout_s=REGISTRY_TIMEOUT_S,
            what="Reading the config",
        )
        checks, sync = await asyncio.gather(self._checks(plan), self._sync(plan))
        if dry_run or checks.blocking:
            return cloud_result(plan, checks, sync, None, dry_run=dry_run)

        record, plan = await reserve(self._services.registry, args, plan, state_dir)
        runtime = self._services.runtimes.create(record.job_id)
        runtime.launch_task = asyncio.ensure_future(self._launch(record, plan.job_config, runtime))
        return cloud_result(plan, checks, sync, JobState.LAUNCHING, dry_run=False)

    async def _sync(self, plan: CloudPlan) -> SyncSummary | None:
        if plan.cloud == LOCAL_CLOUD:
            return None  # oumi's local cloud runs in the working dir itself: nothing is copied
        working_dir = Path(plan.job_config["working_dir"])
        return await run_blocking(
            lambda: summarize_sync(working_dir, excluded_by_skypilot(working_dir)),
            timeout_s=SYNC_SUMMARY_TIMEOUT_S,
            what="Listing the files to sync",
        )

    async def _checks(self, plan: CloudPlan) -> CheckSummary:
        config, cwd = str(plan.config), str(plan.cwd)
        validation, preflight = await asyncio.gather(
            self._services.validation.validate(config, cwd, plan.validation_kind),
            self._services.preflight.check(config, cwd, plan.cloud, envs=plan.args.envs),
        )
        return summarize_checks(validation, preflight)

    async def _launch(
        self, record: JobRecord, job_config: dict[str, object], runtime: JobRuntime
    ) -> None:
        try:
            launched = await self._backend.launch(
                LaunchSpec(record, job_config=job_config), runtime
            )
            logger.info(
                "Job %s launched: %s/%s job %s",
                record.job_id,
                record.cloud,
                launched.cluster_name,
                launched.launcher_job_id,
            )
        except asyncio.CancelledError:
            logger.info("Job %s: launch cancelled; the launch thread settles it", record.job_id)
        except Exception as exc:  # recorded in the run dir by the launch thread
            logger.warning("Job %s: launch failed: %s", record.job_id, exc)
        finally:
            self._services.runtimes.evict_runtime(record.job_id)


def cloud_result(
    plan: CloudPlan,
    checks: CheckSummary,
    sync: SyncSummary | None,
    state: JobState | None,
    *,
    dry_run: bool,
) -> RunJobResult:
    job = f"job_id='{plan.job_id}'"
    where = f"{plan.cloud}" + (f" (cluster {plan.cluster_name})" if plan.cluster_name else "")
    if dry_run:
        message = f"Dry run: nothing was launched on {where}. " + (
            "The checks found blocking errors." if checks.blocking else "The checks passed."
        )
        next_step = (
            "Fix the errors in checks, then dry-run again."
            if checks.blocking
            else "Show the user job_config, sync and reminder; if they agree, call run_oumi_job "
            "again with the same arguments and dry_run=false."
        )
    elif state is None:
        message = "Not launched: the checks found blocking errors (see checks)."
        next_step = "Fix the errors, run validate_config and pre_flight_check, then launch again."
    else:
        message = (
            f"Launching on {where} through oumi.launcher as {plan.job_id}: the job is "
            "being started in the background."
        )
        next_step = (
            f"Poll get_job_status({job}) every 30-60 s (state launching until the cluster is up); "
            f"cancel_job({job}) stops it, even before it has started."
        )
    return RunJobResult(
        dry_run=dry_run,
        launched=state is not None,
        job_id=plan.job_id,
        state=state.value if state else None,
        command=plan.args.command,
        cloud=plan.cloud,
        cluster_name=plan.cluster_name,
        argv=[],
        cwd=str(plan.job_config["working_dir"]),
        env_additions={},
        config_path=str(plan.config),
        staged_config_path=str(plan.staged),
        run_dir=str(plan.run.path),
        stdout_path="",
        stderr_path="",
        output_dir=plan.output_dir,
        checks=checks,
        job_config=plan.shown_job_config(),
        sync=sync,
        reminder=REMINDER,
        message=message,
        next_step=next_step,
    )
