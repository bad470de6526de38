"""What a process job runs: the exact argv, working dir, environment and files, and the answer.

The plan is built from checked arguments and the config already read; it
touches no file. Its id changes only while the record is reserved.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from oumi_mcp_server.jobs.arguments import CheckedArgs
from oumi_mcp_server.jobs.backend import Observation
from oumi_mcp_server.jobs.catalog import (
    COMMAND_KIND,
    JOB_ENV_DEFAULTS,
    JOB_MARKER_ENV,
    LOCAL_CLOUD,
)
from oumi_mcp_server.jobs.checks import ConfigSource, NestedConfig
from oumi_mcp_server.jobs.commands import model_name, oumi_argv, output_location
from oumi_mcp_server.jobs.models import CheckSummary, RunJobResult
from oumi_mcp_server.jobs.process.files import stderr_log, stdout_log
from oumi_mcp_server.jobs.records import PROCESS_BACKEND, JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.masking import mask_env
from oumi_mcp_server.paths import expand_user_path


@dataclass(frozen=True)
class ProcessPlan:
    args: CheckedArgs
    job_id: str
    cwd: Path
    config: Path
    run_dir: RunDir
    staged: Path
    argv: list[str]
    env_additions: dict[str, str]
    output_dir: str
    model_name: str

    @property
    def marker(self) -> str:
        return f"oumi_mcp_job={self.job_id}"

    @property
    def validation_kind(self) -> str:
        return COMMAND_KIND[self.args.command]

    @property
    def check_target(self) -> str:
        return LOCAL_CLOUD

    @property
    def check_envs(self) -> dict[str, str]:
        return {}

    @property
    def nested_configs(self) -> tuple[NestedConfig, ...]:
        return ()  # oumi reads the one config it is given

    @property
    def check_cluster(self) -> str:
        return ""  # it runs here

    def record(self) -> JobRecord:
        return JobRecord(
            job_id=self.job_id,
            command=self.args.command,
            config_path=str(self.config),
            staged_config_path=str(self.staged),
            client_cwd=str(self.cwd),
            run_dir=str(self.run_dir.path),
            submitted_at=time.time(),
            cloud=LOCAL_CLOUD,
            marker=self.marker,
            stdout_path=stdout_log(self.run_dir),
            stderr_path=stderr_log(self.run_dir),
            model_name=self.model_name,
            output_dir=self.output_dir,
            argv=tuple(self.argv),
            env_names=tuple(sorted(self.env_additions)),
            backend=PROCESS_BACKEND,
        )

    def result(
        self, checks: CheckSummary, observation: Observation | None, *, dry_run: bool
    ) -> RunJobResult:
        launched = observation is not None
        job = f"job_id='{self.job_id}'"
        if dry_run:
            message = "Dry run: nothing was started. " + (
                "The checks found blocking errors." if checks.blocking else "The checks passed."
            )
            next_step = (
                "Fix the errors in checks, then dry-run again."
                if checks.blocking
                else "If the user agrees, call run_oumi_job again with the same arguments and "
                "dry_run=false."
            )
        elif not launched:
            message = "Not launched: the checks found blocking errors (see checks)."
            next_step = (
                "Fix the errors, run validate_config and pre_flight_check, then launch again."
            )
        else:
            message = f"Launched {self.args.command} as {self.job_id} in its own process group."
            next_step = (
                f"Poll get_job_status({job}) and read get_job_logs({job}); "
                f"cancel_job({job}) stops it."
            )
        return RunJobResult(
            dry_run=dry_run,
            launched=launched,
            job_id=self.job_id,
            state=observation.state.value if observation else None,
            command=self.args.command,
            cloud=self.args.cloud or LOCAL_CLOUD,
            argv=self.argv,
            cwd=str(self.cwd),
            env_additions=mask_env(self.env_additions),
            config_path=str(self.config),
            staged_config_path=str(self.staged),
            run_dir=str(self.run_dir.path),
            stdout_path=stdout_log(self.run_dir),
            stderr_path=stderr_log(self.run_dir),
            output_dir=self.output_dir,
            checks=checks,
            message=message,
            next_step=next_step,
        )


def make_plan(
    args: CheckedArgs, source: ConfigSource, state_dir: Path, oumi_executable: str
) -> ProcessPlan:
    """The plan for the config already read: argv, env additions, display fields."""
    data = source.document.data
    run_dir = RunDir.for_job(state_dir, args.job_id, args.attempt)
    staged = run_dir.staged_config(source.path)
    output = output_location(args.command, data, args.overrides)
    return ProcessPlan(
        args=args,
        job_id=args.job_id,
        cwd=source.cwd,
        config=source.path,
        run_dir=run_dir,
        staged=staged,
        argv=oumi_argv(oumi_executable, args.command, str(staged), args.overrides),
        env_additions={**JOB_ENV_DEFAULTS, **args.envs, JOB_MARKER_ENV: args.job_id},
        output_dir=str(expand_user_path(output, source.cwd)) if output else "",
        model_name=model_name(data, args.overrides),
    )
