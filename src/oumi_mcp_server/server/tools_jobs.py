"""run_oumi_job, get_job_status, get_job_logs, list_jobs, cancel_job: the job control plane."""

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.jobs.catalog import COMMANDS
from oumi_mcp_server.jobs.models import (
    CancelResult,
    JobList,
    JobLogs,
    JobStatusReport,
    RunJobResult,
)
from oumi_mcp_server.server.annotations import mutating, read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

JobIdArg = Annotated[str, Field(description="The job id returned by run_oumi_job or list_jobs.")]


def register(server: MCPServer, services: Services) -> None:
    jobs = services.jobs

    @server.tool(
        annotations=mutating("Run Oumi job", destructive=False, idempotent=False, open_world=True),
        description=(
            "Run `oumi <command> -c <config>` as a job. Defaults to a dry run that returns the "
            "exact argv, working dir (client_cwd), env additions, the staged copy of the config "
            "and the validation/pre-flight summary. With dry_run=false it validates strictly and "
            "pre-flights first (blocking errors stop it, with the report), copies the config into "
            "the job's run dir and starts the job in its own process group; it returns at once "
            "with the job id. Local jobs survive server restarts. Commands: "
            f"{', '.join(COMMANDS)} (judge runs `oumi judge dataset`; pass "
            "input=<file.jsonl> as an override)."
        ),
    )
    async def run_oumi_job(
        config_path: Annotated[
            str, Field(description="The user's config file: absolute, or relative to client_cwd.")
        ],
        command: Annotated[str, Field(description=f"One of: {', '.join(COMMANDS)}.")],
        client_cwd: Annotated[
            str,
            Field(description="Absolute path of the user's project; the job runs there."),
        ],
        dry_run: Annotated[
            bool, Field(description="True (default): show what would run, start nothing.")
        ] = True,
        job_name: Annotated[
            str,
            Field(
                description="Optional job id (letters, digits, . _ -; at most 64; must be new). "
                "Empty: <command>_<YYYYMMDD_HHMMSS>_<6 hex>."
            ),
        ] = "",
        cloud: Annotated[
            str, Field(description="'' or 'local' (cloud launches are not available yet).")
        ] = "",
        cluster_name: Annotated[str, Field(description="Cloud jobs only; leave empty.")] = "",
        envs: Annotated[
            dict[str, str], Field(description="Extra environment variables for the job.")
        ] = {},  # noqa: B006 - read-only default, part of the tool schema
        overrides: Annotated[
            list[str],
            Field(
                description="Config overrides as key.path=value, e.g. training.max_steps=10 "
                "(passed to oumi as --key.path=value; no shell)."
            ),
        ] = [],  # noqa: B006 - read-only default, part of the tool schema
    ) -> RunJobResult:
        with reported_as_tool_errors("run_oumi_job"):
            return await jobs.run(
                config_path,
                command,
                client_cwd,
                dry_run=dry_run,
                job_name=job_name,
                cloud=cloud,
                cluster_name=cluster_name,
                envs=envs,
                overrides=overrides,
            )

    @server.tool(
        annotations=read_only("Get job status"),
        description=(
            "Live status of one job, read from the engine (process and exit record), never from "
            "a cache: state (queued, launching, running, completed, failed, cancelled), reason, "
            "exit code, timestamps, pid, log paths, output dir, the stderr tail on failure and "
            "the next suggested action."
        ),
    )
    async def get_job_status(job_id: JobIdArg) -> JobStatusReport:
        with reported_as_tool_errors("get_job_status"):
            return await jobs.status(job_id)

    @server.tool(
        annotations=read_only("Get job logs"),
        description=(
            "A job's output, bounded: without offset, the last `lines` lines of stdout and/or "
            "stderr (read from the end, fast on huge logs); with offset (one stream), the lines "
            "from that byte offset forward. Each answer is capped; next_offset and next_step say "
            "how to read on."
        ),
    )
    async def get_job_logs(
        job_id: JobIdArg,
        lines: Annotated[int, Field(description="Lines to return (1-2000).", ge=1, le=2000)] = 200,
        stream: Annotated[
            Literal["stdout", "stderr", "both"], Field(description="Which output to read.")
        ] = "both",
        offset: Annotated[
            int | None,
            Field(description="Byte offset to read forward from (from next_offset).", ge=0),
        ] = None,
    ) -> JobLogs:
        with reported_as_tool_errors("get_job_logs"):
            return await jobs.logs(job_id, lines=lines, stream=stream, offset=offset)

    @server.tool(
        annotations=read_only("List jobs"),
        description=(
            "Jobs this server's registry knows (from every server process sharing the state "
            "dir), newest first, each with its live state. Filter with status: all, active "
            "(not finished), finished, or one state (running, completed, failed, cancelled, ...)."
        ),
    )
    async def list_jobs(
        status: Annotated[
            str,
            Field(
                description="all, active, finished, queued, launching, running, completed, "
                "failed or cancelled."
            ),
        ] = "all",
        limit: Annotated[int, Field(description="Jobs to return (1-1000).", ge=1, le=1000)] = 50,
    ) -> JobList:
        with reported_as_tool_errors("list_jobs"):
            return await jobs.list_jobs(status, limit)

    @server.tool(
        annotations=mutating("Cancel job", destructive=True, idempotent=True, open_world=False),
        description=(
            "Stop a job. Checks the live state first: a finished job is left alone (answer: "
            "already finished, with its state). Otherwise SIGTERM to the job's process group, a "
            "grace period, then SIGKILL (at once with force=true); the job ends cancelled. "
            "Idempotent; says what it did."
        ),
    )
    async def cancel_job(
        job_id: JobIdArg,
        force: Annotated[
            bool, Field(description="SIGKILL at once instead of SIGTERM and a grace period.")
        ] = False,
    ) -> CancelResult:
        with reported_as_tool_errors("cancel_job"):
            return await jobs.cancel(job_id, force=force)
