"""diagnose_job (why a job failed, and the fix) and relaunch_job (the fix applied, run again)."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.models import JobDiagnosis, RelaunchResult
from oumi_mcp_server.server.annotations import mutating, read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

ONE_OF = (
    "Pass job_id for a job of this server, or log_path with client_cwd for a log from "
    "elsewhere (not both)."
)


def register(server: MCPServer, services: Services) -> None:
    @server.tool(
        annotations=read_only("Diagnose a failed job"),
        description=(
            "Why a job failed, and the fix: the root cause from a fixed vocabulary (gpu_oom, "
            "host_oom, hf_auth, dataset_not_found, nan_loss, nccl_timeout, time_limit, "
            "config_error, ...), a confidence, a one-sentence summary, the evidence lines (line "
            "numbers, secrets masked), other candidates, and the fix: steps, a config patch "
            "computed from the job's own config (dotted keys -> new values), the variables "
            "needed, the checkpoint to resume from. For a job (job_id) it reads what its engine "
            "left: its logs, exit code, the engine's state and reason, its staged config; a "
            "finished job's diagnosis is computed once and kept (later calls answer at once); "
            "a running job answers 'nothing failed yet'. For any log (log_path, inside "
            "client_cwd) it reads that file. Then relaunch_job applies the fix."
        ),
    )
    async def diagnose_job(
        job_id: Annotated[
            str, Field(description="The job id returned by run_oumi_job or list_jobs.")
        ] = "",
        log_path: Annotated[
            str,
            Field(
                description="Instead of job_id: a log file inside client_cwd (absolute, or "
                "relative to client_cwd), e.g. from a job run outside this server."
            ),
        ] = "",
        client_cwd: Annotated[
            str, Field(description="With log_path: absolute path of the user's project.")
        ] = "",
        exit_code: Annotated[
            int | None, Field(description="With log_path: the job's exit code, if known.")
        ] = None,
        cloud: Annotated[
            str | None,
            Field(description="With log_path: where the job ran ('' or None: this machine)."),
        ] = None,
    ) -> JobDiagnosis:
        with reported_as_tool_errors("diagnose_job"):
            jobs = await services.job_service()
            if job_id.strip() and log_path.strip():
                raise InvalidArgumentError(
                    "job_id", "both job_id and log_path given.", next_step=ONE_OF
                )
            if job_id.strip():
                if client_cwd.strip() or exit_code is not None or cloud:
                    raise InvalidArgumentError(
                        "job_id",
                        "client_cwd, exit_code and cloud go with log_path only (a job's own "
                        "are known).",
                        next_step="Pass job_id alone.",
                    )
                return await jobs.diagnose(job_id)
            if not log_path.strip():
                raise InvalidArgumentError(
                    "job_id", "neither job_id nor log_path given.", next_step=ONE_OF
                )
            return await jobs.diagnose_log(log_path, client_cwd, exit_code, cloud or "")

    @server.tool(
        annotations=mutating(
            "Relaunch a job with its fix", destructive=False, idempotent=False, open_world=True
        ),
        description=(
            "Run a finished job again with the fix diagnose_job found: its config as it ran "
            "(the staged copy) with fix.config_patch applied and, when a checkpoint was found, "
            "resuming from it, written as a NEW file beside the original (train.yaml -> "
            "train.fix-1.yaml; the user's file is never changed), then launched on the same "
            "engine with the same command, cloud, cluster and overrides. Dry run by default: "
            "the patch, the path it would write, the new config's text and run_oumi_job's dry "
            "run; nothing is written or started. Env values are never kept: if the job had "
            "envs, pass them again (a launch without them is refused). apply_fix=false runs "
            "the config as it ran."
        ),
    )
    async def relaunch_job(
        job_id: Annotated[str, Field(description="The finished job to run again.")],
        apply_fix: Annotated[
            bool, Field(description="Apply the diagnosis's config patch and checkpoint.")
        ] = True,
        dry_run: Annotated[
            bool, Field(description="True (default): show what would run; write and start nothing.")
        ] = True,
        envs: Annotated[
            dict[str, str],
            Field(description="Environment variables for the new job (the original's again)."),
        ] = {},  # noqa: B006 - read-only default, part of the tool schema
    ) -> RelaunchResult:
        with reported_as_tool_errors("relaunch_job"):
            jobs = await services.job_service()
            return await jobs.relaunch(job_id, apply_fix=apply_fix, dry_run=dry_run, envs=envs)
