"""Turn run_oumi_job's arguments into a launch plan: checked inputs, argv, env, paths.

Argument checks are pure and run first (a bad override or command is an
error before any file is read); the plan itself reads the config (blocking).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import CLOUD_ALIASES, LAUNCHER_CLOUDS
from oumi_mcp_server.jobs.commands import (
    Override,
    check_command,
    check_envs,
    model_name,
    oumi_argv,
    output_location,
    parse_overrides,
    redact,
)
from oumi_mcp_server.jobs.models import CheckSummary
from oumi_mcp_server.jobs.naming import check_job_id, generate_job_id, job_id_from_name
from oumi_mcp_server.jobs.records import LOCAL_CLOUD, JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.paths import expand_user_path, resolve_client_cwd, resolve_config_file
from oumi_mcp_server.preflight.models import PreflightReport
from oumi_mcp_server.validation.documents import load_config_document
from oumi_mcp_server.validation.service import ValidationReport

JOB_ID_ENV = "OUMI_MCP_JOB_ID"
# Line-buffered Python output, so get_job_logs sees progress as it happens.
JOB_ENV_DEFAULTS = {"PYTHONUNBUFFERED": "1"}


@dataclass(frozen=True)
class CheckedArgs:
    command: str
    cloud: str
    overrides: list[Override]
    envs: dict[str, str]
    job_id: str
    id_generated: bool


def check_arguments(
    command: str,
    *,
    job_name: str,
    cloud: str,
    cluster_name: str,
    envs: Mapping[str, str],
    overrides: Sequence[str],
) -> CheckedArgs:
    name = check_command(command)
    target = check_cloud(cloud)
    if cluster_name.strip():
        check_job_id(cluster_name, "cluster_name")
    parsed = parse_overrides(list(overrides))
    checked_envs = check_envs(envs)
    if job_name.strip():
        return CheckedArgs(name, target, parsed, checked_envs, job_id_from_name(job_name), False)
    return CheckedArgs(name, target, parsed, checked_envs, generate_job_id(name), True)


def check_cloud(cloud: str) -> str:
    """'' for the local process backend, else a cloud oumi.launcher knows."""
    target = cloud.strip().lower()
    target = CLOUD_ALIASES.get(target, target)
    if target and target not in LAUNCHER_CLOUDS:
        raise InvalidArgumentError(
            "cloud",
            f"'{cloud}' is not a cloud oumi.launcher knows.",
            next_step=f"Use '' (run here) or one of: {', '.join(LAUNCHER_CLOUDS)}.",
        )
    return target


@dataclass(frozen=True)
class Plan:
    args: CheckedArgs
    job_id: str
    cwd: Path
    config: Path
    run: RunDir
    staged: Path
    argv: list[str]
    env_additions: dict[str, str]
    output_dir: str
    model_name: str

    @property
    def marker(self) -> str:
        return f"oumi_mcp_job={self.job_id}"

    def with_job_id(self, job_id: str, state_dir: Path) -> Plan:
        run = RunDir.for_job(state_dir, job_id)
        staged = run.staged_config(self.config)
        argv = [*self.argv]
        argv[argv.index(str(self.staged))] = str(staged)
        env = {**self.env_additions, JOB_ID_ENV: job_id}
        return Plan(
            self.args,
            job_id,
            self.cwd,
            self.config,
            run,
            staged,
            argv,
            env,
            self.output_dir,
            self.model_name,
        )

    def record(self, submitted_at: float | None = None) -> JobRecord:
        return JobRecord(
            job_id=self.job_id,
            command=self.args.command,
            config_path=str(self.config),
            staged_config_path=str(self.staged),
            client_cwd=str(self.cwd),
            run_dir=str(self.run.path),
            submitted_at=time.time() if submitted_at is None else submitted_at,
            cloud=LOCAL_CLOUD,
            marker=self.marker,
            stdout_path=str(self.run.stdout),
            stderr_path=str(self.run.stderr),
            model_name=self.model_name,
            output_dir=self.output_dir,
            argv=tuple(self.argv),
            env_names=tuple(sorted(self.env_additions)),
        )


def make_plan(
    args: CheckedArgs, config_path: str, client_cwd: str, state_dir: Path, oumi_executable: str
) -> Plan:
    """Blocking: resolve the paths and read the config for display fields."""
    cwd = resolve_client_cwd(client_cwd)
    config = resolve_config_file(config_path, cwd)
    data = load_config_document(config).data
    run = RunDir.for_job(state_dir, args.job_id)
    staged = run.staged_config(config)
    output = output_location(args.command, data, args.overrides)
    return Plan(
        args=args,
        job_id=args.job_id,
        cwd=cwd,
        config=config,
        run=run,
        staged=staged,
        argv=oumi_argv(oumi_executable, args.command, str(staged), args.overrides),
        env_additions={**JOB_ENV_DEFAULTS, **args.envs, JOB_ID_ENV: args.job_id},
        output_dir=str(expand_user_path(output, cwd)) if output else "",
        model_name=model_name(data, args.overrides),
    )


def shown_env(plan: Plan) -> dict[str, str]:
    return redact(plan.env_additions)


def summarize_checks(validation: ValidationReport, preflight: PreflightReport) -> CheckSummary:
    # Strict validation (against the command's config class) replaces pre-flight's own
    # config check, which infers the kind.
    preflight_errors = [f for f in preflight.errors if f.check != "config"]
    blocking = not validation.valid or bool(preflight_errors)
    warnings = [f for f in preflight.warnings if f.check != "config"]
    if blocking:
        count = len(validation.errors) + len(preflight_errors)
        summary = f"BLOCKED: {count} error(s) must be fixed before this job can run."
    else:
        summary = f"{validation.summary} Pre-flight: {preflight.summary}"
    return CheckSummary(
        valid=validation.valid,
        blocking=blocking,
        summary=summary,
        validation_errors=list(validation.errors),
        preflight_errors=preflight_errors,
        warnings=warnings,
    )
