"""Launch plans for oumi.launcher: a given job config, or one generated for a config.

A job config (resources/setup/run) is launched as written, with four changes
shown in the dry run: its name becomes our job id (so the launcher's job can
be recognised as ours), a missing or relative working_dir resolves against
client_cwd, ``envs`` from the tool are added, and our job id is set in its
environment. A training/eval/infer config gets a generated job config
(launcher/jobspec.py): working_dir = client_cwd, the same oumi version, and a
run line with the config's path relative to working_dir.
"""

from __future__ import annotations

import copy
import re
import time
from dataclasses import dataclass
from functools import cached_property
from importlib.metadata import version
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import InvalidArgumentError
from oumi_mcp_server.jobs.catalog import COMMAND_ARGV, COMMAND_KIND
from oumi_mcp_server.jobs.commands import model_name, output_location, redact
from oumi_mcp_server.jobs.launch import JOB_ENV_DEFAULTS, CheckedArgs
from oumi_mcp_server.jobs.records import LAUNCHER_BACKEND, JobRecord
from oumi_mcp_server.jobs.rundir import RunDir
from oumi_mcp_server.launcher.jobspec import (
    JOB_MARKER_ENV,
    LOCAL_CLOUD,
    LOCAL_LOGGING_DIR_ENV,
    CloudJobRequest,
    build_job_config,
)
from oumi_mcp_server.paths import expand_user_path, resolve_client_cwd, resolve_config_file
from oumi_mcp_server.validation.documents import load_config_document
from oumi_mcp_server.validation.kinds import choose_kind

JOB_KIND = "job"
REMINDER = (
    "Cloud machines bill from the moment the cluster is up until it is stopped or deleted, "
    "also after the job ends. When the job is done, copy its outputs out (they live on the "
    "cluster's disk), then stop_cluster (keeps the disk) or down_cluster (deletes everything)."
)


_ACCELERATORS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(:[1-9][0-9]{0,2})?$")


@dataclass(frozen=True)
class CloudResources:
    accelerators: str = ""
    disk_size_gb: int = 0
    use_spot: bool = False

    def check(self) -> CloudResources:
        if self.accelerators and not _ACCELERATORS.match(self.accelerators):
            raise InvalidArgumentError(
                "accelerators",
                f"'{self.accelerators}' is not an accelerator spec.",
                next_step="Use NAME or NAME:COUNT, e.g. 'A100:1' or 'H100:8' "
                "(`sky show-gpus` lists them).",
            )
        if not 0 <= self.disk_size_gb <= 65536:
            raise InvalidArgumentError(
                "disk_size_gb",
                f"{self.disk_size_gb} is not a disk size in GB.",
                next_step="Use 0 for the cloud's default, or a size such as 256.",
            )
        return self


@dataclass(frozen=True)
class CloudPlan:
    args: CheckedArgs
    job_id: str
    cwd: Path
    config: Path
    cloud: str
    cluster_name: str
    given_job_config: dict[str, Any] | None  # the user's job config, or None: generated
    resources: CloudResources
    run: RunDir
    output_dir: str = ""
    model_name: str = ""

    @property
    def validation_kind(self) -> str:
        return JOB_KIND if self.given_job_config is not None else COMMAND_KIND[self.args.command]

    @property
    def staged(self) -> Path:
        return self.run.staged_config(self.config)

    @cached_property
    def job_config(self) -> dict[str, Any]:
        """The JobConfig to launch (built once per plan; treat it as read-only)."""
        if self.given_job_config is not None:
            return adopt_job_config(self.given_job_config, self)
        overrides = [override.argument for override in self.args.overrides]
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
                accelerators=self.resources.accelerators or None,
                disk_size=self.resources.disk_size_gb or None,
                use_spot=self.resources.use_spot,
            )
        )

    def shown_job_config(self) -> dict[str, Any]:
        shown = copy.deepcopy(self.job_config)
        if isinstance(shown.get("envs"), dict):
            shown["envs"] = redact({str(k): str(v) for k, v in shown["envs"].items()})
        return shown

    def with_job_id(self, job_id: str, state_dir: Path) -> CloudPlan:
        return CloudPlan(
            self.args,
            job_id,
            self.cwd,
            self.config,
            self.cloud,
            self.cluster_name,
            self.given_job_config,
            self.resources,
            RunDir.for_job(state_dir, job_id),
            self.output_dir,
            self.model_name,
        )

    def record(self) -> JobRecord:
        envs = self.job_config.get("envs") or {}
        return JobRecord(
            job_id=self.job_id,
            command=self.args.command,
            config_path=str(self.config),
            staged_config_path=str(self.staged),
            client_cwd=str(self.cwd),
            run_dir=str(self.run.path),
            submitted_at=time.time(),
            cloud=self.cloud,
            cluster_name=self.cluster_name,
            model_name=self.model_name,
            output_dir=self.output_dir,
            env_names=tuple(sorted(str(name) for name in envs)),
            backend=LAUNCHER_BACKEND,
        )


def adopt_job_config(given: dict[str, Any], plan: CloudPlan) -> dict[str, Any]:
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
    if plan.cloud == LOCAL_CLOUD:
        envs[LOCAL_LOGGING_DIR_ENV] = str(plan.run.launcher_logs)
    job["envs"] = envs
    return job


def is_job_config(config_path: str, client_cwd: str) -> bool:
    """Blocking: True if the file is an oumi job config (resources/setup/run)."""
    cwd = resolve_client_cwd(client_cwd)
    path = resolve_config_file(config_path, cwd)
    document = load_config_document(path)
    return choose_kind("auto", document.data, path.name).kind.name == JOB_KIND


def make_cloud_plan(
    args: CheckedArgs,
    config_path: str,
    client_cwd: str,
    state_dir: Path,
    cluster_name: str,
    resources: CloudResources,
) -> CloudPlan:
    """Blocking: resolve the paths, read the config, pick the cloud."""
    cwd = resolve_client_cwd(client_cwd)
    config = resolve_config_file(config_path, cwd)
    document = load_config_document(config)
    data = document.data
    run = RunDir.for_job(state_dir, args.job_id)
    if choose_kind("auto", data, config.name).kind.name == JOB_KIND:
        cloud = _job_config_cloud(data, args.cloud)
        return CloudPlan(args, args.job_id, cwd, config, cloud, cluster_name, data, resources, run)
    if args.cloud == LOCAL_CLOUD:
        raise InvalidArgumentError(
            "cloud",
            "training/eval/infer configs run locally through this server's own process backend.",
            next_step="Use cloud='' for a local run, or pass a job config to use oumi.launcher's "
            "local cloud.",
        )
    output = output_location(args.command, data, args.overrides)
    return CloudPlan(
        args,
        args.job_id,
        cwd,
        config,
        args.cloud,
        cluster_name,
        None,
        resources,
        run,
        output_dir=output or "",
        model_name=model_name(data, args.overrides),
    )


def _job_config_cloud(data: dict[str, Any], requested: str) -> str:
    resources = data.get("resources")
    raw = resources.get("cloud") if isinstance(resources, dict) else None
    configured = str(raw).strip().lower() if raw else ""
    if requested and configured and requested != configured:
        raise InvalidArgumentError(
            "cloud",
            f"'{requested}' conflicts with the job config's resources.cloud '{configured}'.",
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
