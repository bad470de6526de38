"""run_oumi_job, get_job_status, get_job_logs, list_jobs, cancel_job: the job control plane."""

from typing import Annotated, Literal

from mcp.server.mcpserver import MCPServer
from pydantic import Field

from oumi_mcp_server.jobs.arguments import CloudResources
from oumi_mcp_server.jobs.catalog import COMMANDS
from oumi_mcp_server.jobs.models import (
    CancelResult,
    JobList,
    JobLogs,
    JobStatusReport,
    RunJobResult,
)
from oumi_mcp_server.jobs.policies.guards import Guards
from oumi_mcp_server.server.annotations import mutating, read_only
from oumi_mcp_server.server.errors import reported_as_tool_errors
from oumi_mcp_server.services import Services

JobIdArg = Annotated[str, Field(description="The job id returned by run_oumi_job or list_jobs.")]


def register(server: MCPServer, services: Services) -> None:

    @server.tool(
        annotations=mutating("Run Oumi job", destructive=False, idempotent=False, open_world=True),
        description=(
            "Run `oumi <command> -c <config>` as a job, here or through oumi.launcher. Defaults "
            "to a dry run that starts nothing. Local (cloud=''): the dry run shows the exact argv, "
            "working dir (client_cwd), env additions, the staged config copy and the validation/"
            "pre-flight summary; the job runs in its own process group and survives server "
            "restarts. Cloud (cloud='gcp', 'aws', 'azure', 'lambda', 'runpod', 'kubernetes', "
            "'slurm', 'polaris', ...) or a job config (resources/setup/run, also with "
            "resources.cloud: local): the dry run shows the full oumi JobConfig to launch "
            "(for a training/eval/infer config one is generated: working_dir = client_cwd, "
            "the same oumi version, resources from accelerators/disk_size_gb/use_spot), the "
            "files synced, pre-flight and a cost/teardown reminder; the launch returns at once "
            "with state 'launching'. With dry_run=false it validates and pre-flights first "
            "(blocking errors stop it, with the report); the job exists from the request on "
            "(state 'validating' meanwhile: cancel_job then stops it before it starts). "
            "job_name is an idempotency key: the same request again with the same job_name "
            "returns that job (existing=true) instead of starting another, so pass one to "
            "retry safely after a lost connection; another request with a taken name is "
            "refused, naming what differs. Slurm (cloud='slurm', cluster_name='user@host'): "
            "the JobConfig is adapted for oumi's slurm cloud (working_dir synced whole, env "
            "values quoted, setup activating oumi with the server's OUMI_MCP_SLURM_SETUP, "
            "cpus/memory_gb/accelerators/time_limit as sbatch options). Commands: "
            f"{', '.join(COMMANDS)} (judge runs `oumi judge dataset`; pass "
            "input=<file.jsonl> as an override)."
        ),
    )
    async def run_oumi_job(
        config_path: Annotated[
            str, Field(description="The user's config file: absolute, or relative to client_cwd.")
        ],
        command: Annotated[
            str,
            Field(
                description=f"One of: {', '.join(COMMANDS)}. With a job config it must be "
                "the command its run block calls (`oumi train -c ...` -> 'train'), else the "
                "request is refused; with no oumi call in the run block it is listed in "
                "not_applied."
            ),
        ],
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
                description="Optional job id (letters, digits, . _ -; at most 64), and an "
                "idempotency key: repeating the same request with it returns the job it "
                "started. Empty: <command>_<YYYYMMDD_HHMMSS>_<6 hex>."
            ),
        ] = "",
        cloud: Annotated[
            str,
            Field(
                description="'' runs here. Else a cloud oumi.launcher knows: gcp, aws, azure, "
                "lambda, runpod, kubernetes (k8s), nebius, slurm, sky-slurm, polaris, "
                "frontier, perlmutter, modal, local. Job configs default to resources.cloud."
            ),
        ] = "",
        cluster_name: Annotated[
            str,
            Field(
                description="Launcher jobs: reuse or name a cluster ('' lets it choose); for "
                "Slurm the login node as user@host (as in OUMI_SLURM_CONNECTIONS)."
            ),
        ] = "",
        envs: Annotated[
            dict[str, str], Field(description="Extra environment variables for the job.")
        ] = {},  # noqa: B006 - read-only default, part of the tool schema
        overrides: Annotated[
            list[str],
            Field(
                description="Config overrides as key.path=value, e.g. training.max_steps=10 "
                "(passed to oumi as --key.path=value; no shell). With a job config they are "
                "appended, shell-quoted, to the one oumi call of its run block (shown in the "
                "dry run); refused when it has none or several, or for the job config's own "
                "fields (resources.*, envs.*, num_nodes ...)."
            ),
        ] = [],  # noqa: B006 - read-only default, part of the tool schema
        accelerators: Annotated[
            str,
            Field(description="Generated cloud jobs: GPUs, e.g. 'A100:1', 'H100:8' ('' none)."),
        ] = "",
        disk_size_gb: Annotated[
            int, Field(description="Generated cloud jobs: disk size in GB (0: default).")
        ] = 0,
        use_spot: Annotated[
            bool, Field(description="Generated cloud jobs: spot/preemptible machines.")
        ] = False,
        cpus: Annotated[
            int, Field(description="Generated launcher jobs: CPUs (Slurm: --cpus-per-task).")
        ] = 0,
        memory_gb: Annotated[
            int, Field(description="Generated launcher jobs: memory in GB (Slurm: --mem).")
        ] = 0,
        time_limit: Annotated[
            str,
            Field(
                description="Slurm jobs: sbatch --time, as minutes ('90') or [D-]HH:MM:SS "
                "('01:30:00')."
            ),
        ] = "",
        max_restarts: Annotated[
            int,
            Field(
                description="Run until done: restart the job by itself up to this many times "
                "when an attempt ends for a cause in restart_on (a time limit, preemption, a "
                "lost node...), resuming from the newest complete checkpoint; one job id for "
                "the whole run (get_job_status lists the attempts; cancel_job stops the run). "
                "0 (default): no restarts.",
                ge=0,
                le=20,
            ),
        ] = 0,
        restart_on: Annotated[
            list[str] | None,
            Field(
                description="Causes that restart it (diagnose_job's ids, 'lost', or signal "
                "names like SIGTERM). Default: time_limit, preempted, nccl_timeout, "
                "no_capacity, lost. Causes that are the config's fault never restart.",
                max_length=40,
            ),
        ] = None,
        guards: Annotated[
            Guards | None,
            Field(
                description="Stop the job on its own: max_hours, max_cost_usd (a launch whose "
                "quote for max_hours, or whose estimated total, exceeds it is refused), "
                "stall_minutes (no new step or "
                "log output), stop_on_nan; on_trip: cancel (default), stop_cluster or "
                "down_cluster (only a cluster this server launched for the job); "
                "price_per_hour_usd for Slurm or this machine. get_job_status shows "
                "stopped_by, the reason, the spend so far and health warnings."
            ),
        ] = None,
    ) -> RunJobResult:
        resources = CloudResources(
            accelerators.strip(), disk_size_gb, use_spot, cpus, memory_gb, time_limit.strip()
        )
        with reported_as_tool_errors("run_oumi_job"):
            jobs = await services.job_service()
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
                resources=resources,
                max_restarts=max_restarts,
                restart_on=restart_on,
                guards=guards,
            )

    @server.tool(
        annotations=read_only("Get job status"),
        description=(
            "Live status of one job, read from its engine, never from a cache: the process and "
            "its exit record for process jobs (run here, no cloud), oumi.launcher's status for "
            "launcher jobs. State "
            "(validating, queued, launching, running, completed, failed, cancelled, unknown), "
            "reason, exit "
            "code, timestamps, log paths, output dir, the output tail on failure and the next "
            "suggested action. With cloud (and cluster_name), job_id is a launcher job id: "
            "works for jobs started outside this server too."
        ),
    )
    async def get_job_status(
        job_id: JobIdArg,
        cloud: Annotated[
            str,
            Field(description="Set to look job_id up as a launcher job id on this cloud."),
        ] = "",
        cluster_name: Annotated[
            str, Field(description="With cloud: the cluster of the launcher job.")
        ] = "",
    ) -> JobStatusReport:
        with reported_as_tool_errors("get_job_status"):
            jobs = await services.job_service()
            return await jobs.status(job_id, cloud, cluster_name)

    @server.tool(
        annotations=read_only("Get job logs"),
        description=(
            "A job's output, bounded: without offset, the last `lines` lines of stdout and/or "
            "stderr (read from the end, fast on huge logs); with offset (one stream), the lines "
            "from that byte offset forward. Each answer is capped; next_offset and next_step say "
            "how to read on. Cloud jobs: the cluster's log stream (stdout and stderr combined), "
            "read for a few seconds at most and kept in the job's run dir."
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
            jobs = await services.job_service()
            return await jobs.logs(job_id, lines=lines, stream=stream, offset=offset)

    @server.tool(
        annotations=read_only("List jobs"),
        description=(
            "Every job: ours (from every server process sharing the state dir), newest first, "
            "each with its live state from its engine, then the jobs oumi.launcher knows that "
            "we did not start (sky/oumi launch CLIs). Asked: oumi's local cloud, configured "
            "Slurm clusters, the SkyPilot clouds `sky check` enabled, any cloud our jobs use, "
            "and `cloud` if given (a cloud SkyPilot has not enabled is not asked otherwise: "
            "asking it would start SkyPilot's API server; notes say so). Each cloud is asked "
            "in parallel under its own time limit; a cloud that fails is a warning and hides "
            "nothing else. Answers are reused for a few seconds. Filter with status: all, "
            "active (not finished), finished, or one state (running, completed, failed, "
            "cancelled, unknown, ...)."
        ),
    )
    async def list_jobs(
        status: Annotated[
            str,
            Field(
                description="all, active, finished, queued, launching, running, completed, "
                "failed, cancelled or unknown."
            ),
        ] = "all",
        limit: Annotated[int, Field(description="Jobs to return (1-1000).", ge=1, le=1000)] = 50,
        cloud: Annotated[
            str,
            Field(
                description="An oumi.launcher cloud to ask besides the usual ones (e.g. 'gcp' "
                "before `sky check` enabled it); '' for none."
            ),
        ] = "",
    ) -> JobList:
        with reported_as_tool_errors("list_jobs"):
            jobs = await services.job_service()
            return await jobs.list_jobs(status, limit, cloud=cloud)

    @server.tool(
        annotations=mutating("Cancel job", destructive=True, idempotent=True, open_world=False),
        description=(
            "Stop a job. Checks the live state first: a finished job is left alone (answer: "
            "already finished, with its state). A launch still being checked (validating) never "
            "starts. Process jobs: SIGTERM to every live process of the job's group (also when "
            "its main process has already ended), a grace period, then SIGKILL (at once with "
            "force=true). Launcher jobs: oumi."
            "launcher's cancel under a time limit (a time-out is an error saying how to check); "
            "a job still being launched is cancelled the moment its launch returns; force=true "
            "is refused for them (oumi.launcher has no forced cancel). The cluster keeps "
            "running: stop_cluster/down_cluster end its billing. Idempotent; says what it did."
        ),
    )
    async def cancel_job(
        job_id: JobIdArg,
        force: Annotated[
            bool,
            Field(
                description="Process jobs only: SIGKILL at once instead of SIGTERM and a grace "
                "period. Refused for launcher (cloud/cluster) jobs."
            ),
        ] = False,
    ) -> CancelResult:
        with reported_as_tool_errors("cancel_job"):
            jobs = await services.job_service()
            return await jobs.cancel(job_id, force=force)
