"""Launch plans for oumi.launcher: a given job config, or one generated for a config.

A job config (resources/setup/run) is launched as written, with these changes
shown in the dry run: its name becomes our job id (so the launcher's job can
be recognised as ours), a missing or relative working_dir resolves against
client_cwd, ``envs`` from the tool are added, our job id is set in its
environment, and ``overrides`` are appended to the one oumi call of its run
block (run_block.py). The request must agree with the run block: a command
other than the one it calls, or overrides it cannot take (no oumi call, several,
or fields of the job config itself) are refused; what changes nothing (command
with no visible oumi call, resources) is listed as not applied. The config the
run block hands to oumi is checked too (``nested_configs``). A training/eval/
infer config gets a generated job config (jobspec.py): working_dir =
client_cwd, the same oumi version, and a run line with the config's path
relative to working_dir.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.catalog import (
    COMMAND_ARGV,
    COMMAND_KIND,
    JOB_ENV_DEFAULTS,
    JOB_MARKER_ENV,
)
from oumi_mcp_server.jobs.checks import JOB_KIND, ConfigSource, NestedConfig
from oumi_mcp_server.jobs.commands import model_name, output_location
from oumi_mcp_server.jobs.kinds import CloudKind, kind_of
from oumi_mcp_server.jobs.launcher.given_job import check_request, nested_configs, not_applied
from oumi_mcp_server.jobs.launcher.jobspec import (
    LOCAL_LOGGING_DIR_ENV,
    CloudJobRequest,
    build_job_config,
)
from oumi_mcp_server.jobs.launcher.logs import launcher_logs_dir
from oumi_mcp_server.jobs.launcher.run_block import RunBlock, read_run_block
from oumi_mcp_server.jobs.launcher.slurm_job import for_slurm, job_script
from oumi_mcp_server.jobs.models import CheckSummary, RunJobResult, SyncSummary
from oumi_mcp_server.jobs.records import LAUNCHER_BACKEND, JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.masking import mask_env, shown
from oumi_mcp_server.paths import expand_user_path

REMINDER = (
    "Cloud machines bill from the moment the cluster is up until it is stopped or deleted, "
    "also after the job ends. When the job is done, copy its outputs out (they live on the "
    "cluster's disk), then stop_cluster (keeps the disk) or down_cluster (deletes everything)."
)


@dataclass(frozen=True)
class LauncherPlan:
    args: CheckedArgs
    job_id: str
    cwd: Path
    config: Path
    cloud: str
    cluster_name: str
    given_job_config: dict[str, Any] | None  # the user's job config, or None: generated
    run_dir: RunDir
    output_dir: str = ""
    model_name: str = ""
    sync: SyncSummary | None = None  # what goes up (None for the local cloud: runs in place)
    run_block: RunBlock | None = None  # a given job config's run block, as read
    slurm_setup: str = ""  # Slurm: how to activate oumi on the cluster (OUMI_MCP_SLURM_SETUP)

    @property
    def validation_kind(self) -> str:
        return JOB_KIND if self.given_job_config is not None else COMMAND_KIND[self.args.command]

    @property
    def check_target(self) -> str:
        return self.cloud

    @property
    def check_envs(self) -> dict[str, str]:
        return self.args.envs

    @property
    def check_cluster(self) -> str:
        """The cluster pre-flight reaches (a Slurm login node, user@host)."""
        return self.cluster_name

    @property
    def nested_configs(self) -> tuple[NestedConfig, ...]:
        """The configs a given job config's run block hands to oumi (a generated job config
        runs the config given, which is checked itself)."""
        if self.run_block is None:
            return ()
        setup = self.job_config.get("setup")
        has_setup = isinstance(setup, str) and bool(setup.strip())
        return nested_configs(self.run_block, self.working_dir, self.cloud, has_setup=has_setup)

    def not_applied(self) -> list[str]:
        """The request's arguments that change nothing in what a given job config runs."""
        return [] if self.run_block is None else not_applied(self.args, self.run_block)

    @property
    def staged(self) -> Path:
        return self.run_dir.staged_config(self.config)

    @property
    def working_dir(self) -> Path:
        return Path(self.job_config["working_dir"])

    @property
    def kind(self) -> CloudKind:
        return kind_of(self.cloud)

    @cached_property
    def job_config(self) -> dict[str, Any]:
        """The JobConfig to launch (built once per plan; treat it as read-only)."""
        job = self._job_config()
        if not self.kind.sbatch_script:
            return job
        return for_slurm(
            job,
            self.cluster_name,
            activate=self.slurm_setup,
            time_limit=self.args.resources.time_limit if self.given_job_config is None else "",
            generated=self.given_job_config is None,
        )

    def _job_config(self) -> dict[str, Any]:
        if self.given_job_config is not None:
            return adopt_job_config(self.given_job_config, self)
        overrides = [override.argument for override in self.args.overrides]
        resources = self.args.resources
        return build_job_config(
            CloudJobRequest(
                job_id=self.job_id,
                command=" ".join(COMMAND_ARGV[self.args.command]),
                config_path=self.config,
                client_cwd=self.cwd,
                cloud=self.cloud,
                oumi_version=version("oumi"),
                overrides=overrides,
                envs={**JOB_ENV_DEFAULTS, **self.args.envs},
                accelerators=resources.accelerators or None,
                disk_size=resources.disk_size_gb or None,
                use_spot=resources.use_spot,
                cpus=resources.cpus,
                memory_gb=resources.memory_gb,
            )
        )

    def shown_job_config(self) -> dict[str, Any]:
        masked = copy.deepcopy(self.job_config)
        if isinstance(masked.get("envs"), dict):
            masked["envs"] = mask_env(masked["envs"])
        return masked

    def record(self) -> JobRecord:
        envs = self.job_config.get("envs") or {}
        return JobRecord(
            job_id=self.job_id,
            command=self.args.command,
            config_path=str(self.config),
            staged_config_path=str(self.staged),
            client_cwd=str(self.cwd),
            run_dir=str(self.run_dir.path),
            submitted_at=time.time(),
            cloud=self.cloud,
            cluster_name=self.cluster_name,
            model_name=self.model_name,
            output_dir=self.output_dir,
            env_names=tuple(sorted(str(name) for name in envs)),
            backend=LAUNCHER_BACKEND,
        )

    def result(
        self, checks: CheckSummary, observation: Observation | None, *, dry_run: bool
    ) -> RunJobResult:
        message, next_step = self._answer(checks, observation, dry_run)
        return RunJobResult(
            dry_run=dry_run,
            launched=observation is not None,
            job_id=self.job_id,
            state=observation.state.value if observation else None,
            command=self.args.command,
            cloud=self.cloud,
            cluster_name=self.cluster_name,
            argv=[],
            cwd=str(self.working_dir),
            env_additions={},
            config_path=str(self.config),
            staged_config_path=str(self.staged),
            run_dir=str(self.run_dir.path),
            stdout_path="",
            stderr_path="",
            output_dir=self.output_dir,
            checks=checks,
            not_applied=self.not_applied(),
            job_config=self.shown_job_config(),
            job_script=job_script(self.shown_job_config()) if self.kind.sbatch_script else "",
            sync=self.sync,
            reminder=REMINDER,
            message=message,
            next_step=next_step,
        )

    def _answer(
        self, checks: CheckSummary, observation: Observation | None, dry_run: bool
    ) -> tuple[str, str]:
        job = f"job_id='{self.job_id}'"
        where = self.cloud + (f" (cluster {self.cluster_name})" if self.cluster_name else "")
        if dry_run:
            message = f"Dry run: nothing was launched on {where}. " + (
                "The checks found blocking errors." if checks.blocking else "The checks passed."
            )
            if self.not_applied():
                message += " Some arguments change nothing in what runs: see not_applied."
            if checks.blocking:
                return message, "Fix the errors in checks, then dry-run again."
            return message, (
                "Show the user job_config, sync and reminder; if they agree, call run_oumi_job "
                "again with the same arguments and dry_run=false."
            )
        if observation is None:
            return (
                "Not launched: the checks found blocking errors (see checks).",
                "Fix the errors, run validate_config and pre_flight_check, then launch again.",
            )
        return (
            f"Launching on {where} through oumi.launcher as {self.job_id}: the job is "
            "being started in the background.",
            f"Poll get_job_status({job}) every 30-60 s (state launching until the cluster is up); "
            f"cancel_job({job}) stops it, even before it has started.",
        )


def adopt_job_config(given: dict[str, Any], plan: LauncherPlan) -> dict[str, Any]:
    job = copy.deepcopy(given)
    job["name"] = plan.job_id
    raw_dir = job.get("working_dir")
    job["working_dir"] = (
        str(expand_user_path(raw_dir, plan.cwd))
        if isinstance(raw_dir, str) and raw_dir.strip()
        else str(plan.cwd)
    )
    resources = dict(job.get("resources") or {})
    resources["cloud"] = plan.cloud
    job["resources"] = resources
    envs = {str(k): str(v) for k, v in (job.get("envs") or {}).items()}
    envs.update(plan.args.envs)
    envs[JOB_MARKER_ENV] = plan.job_id
    if kind_of(plan.cloud).logs == "run_dir_files":
        envs[LOCAL_LOGGING_DIR_ENV] = str(launcher_logs_dir(plan.run_dir))
    job["envs"] = envs
    if plan.run_block is not None and plan.args.overrides:
        job["run"] = plan.run_block.with_arguments(
            [override.argument for override in plan.args.overrides]
        )
    return job


def make_plan(
    args: CheckedArgs, source: ConfigSource, state_dir: Path, *, slurm_setup: str = ""
) -> LauncherPlan:
    """The plan for the config already read: a given job config, or one to generate."""
    data = source.document.data
    sbatch = bool(args.cloud) and kind_of(args.cloud).sbatch_script
    if args.resources.time_limit and not sbatch and not source.is_job_config:
        raise InvalidArgumentError(
            "time_limit",
            "a time limit applies to Slurm jobs only (sbatch --time).",
            next_step="Leave time_limit empty, or pass cloud='slurm' with cluster_name.",
        )
    run_dir = RunDir.for_job(state_dir, args.job_id, args.attempt)
    cluster = args.cluster_name
    if source.is_job_config:
        cloud = _job_config_cloud(data, args.cloud)
        run = data.get("run")
        block = read_run_block(run if isinstance(run, str) else "")
        check_request(args, block)
        return LauncherPlan(
            args,
            args.job_id,
            source.cwd,
            source.path,
            cloud,
            cluster,
            data,
            run_dir,
            run_block=block,
            slurm_setup=slurm_setup,
        )
    if kind_of(args.cloud).runs_here:
        raise InvalidArgumentError(
            "cloud",
            "training/eval/infer configs run locally through this server's own process backend.",
            next_step="Use cloud='' for a process job (run here), or pass a job config to use "
            "oumi.launcher's local cloud.",
        )
    output = output_location(args.command, data, args.overrides)
    return LauncherPlan(
        args,
        args.job_id,
        source.cwd,
        source.path,
        args.cloud,
        cluster,
        None,
        run_dir,
        output_dir=output or "",
        model_name=model_name(data, args.overrides),
        slurm_setup=slurm_setup,
    )


def _job_config_cloud(data: dict[str, Any], requested: str) -> str:
    resources = data.get("resources")
    raw = resources.get("cloud") if isinstance(resources, dict) else None
    configured = str(raw).strip().lower() if raw else ""
    if requested and configured and requested != configured:
        raise InvalidArgumentError(
            "cloud",
            f"{shown(requested)} conflicts with the job config's resources.cloud '{configured}'.",
            next_step="Leave cloud empty to use the job config's cloud, or change the config.",
        )
    cloud = requested or configured
    if not cloud:
        raise InvalidArgumentError(
            "cloud",
            "the job config has no resources.cloud and no cloud was given.",
            next_step="Pass cloud (e.g. 'gcp', 'aws', 'kubernetes', 'slurm', 'local') or set "
            "resources.cloud in the job config.",
        )
    return cloud
