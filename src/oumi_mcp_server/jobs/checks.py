"""A launch's config, read once, and its checks: strict validation plus pre-flight.

The config a request names is read and parsed once (under its own time limit,
so a slow disk is reported as a slow disk), then handed as it is to planning,
validation and pre-flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.jobs.models import CheckSummary
from oumi_mcp_server.masking import code_loading_names
from oumi_mcp_server.preflight.models import Finding, PreflightReport
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import CONFIG_READ_TIMEOUT_S
from oumi_mcp_server.validation.documents import (
    ConfigDocument,
    deadline_after,
    read_project_config,
)
from oumi_mcp_server.validation.kinds import choose_kind
from oumi_mcp_server.validation.service import ValidationReport, ValidationService

JOB_KIND = "job"


@dataclass(frozen=True)
class ConfigSource:
    """The project directory and the config of one request, read once."""

    cwd: Path  # client_cwd, resolved
    document: ConfigDocument

    @property
    def path(self) -> Path:
        return self.document.path

    @cached_property
    def is_job_config(self) -> bool:
        """True for an oumi job config (resources/setup/run) rather than a command's config."""
        return choose_kind("auto", self.document.data, self.path.name).kind.name == JOB_KIND


async def read_config(
    config_path: str,
    client_cwd: str,
    extra_roots: Sequence[Path] = (),
    timeout_s: float = CONFIG_READ_TIMEOUT_S,
) -> ConfigSource:
    """Resolve client_cwd and the config (inside the project or ``extra_roots``), then
    read and parse the config, in a worker thread under its own time limit."""

    deadline = deadline_after(timeout_s)  # the parse stops once the caller has given up

    def read() -> ConfigSource:
        return ConfigSource(*read_project_config(config_path, client_cwd, extra_roots, deadline))

    return await run_blocking(
        read,
        timeout_s=timeout_s,
        what=f"Reading the config file '{config_path}'",
        next_step="The disk (or network mount) holding it is not answering; check it, "
        "then call again.",
    )


class CheckedPlan(Protocol):
    """What the checks need to know of a launch plan."""

    @property
    def validation_kind(self) -> str: ...

    @property
    def check_target(self) -> str: ...

    @property
    def check_envs(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class LaunchChecks:
    """Validation and pre-flight for a planned launch, on the config it has already read."""

    validation: ValidationService
    preflight: PreflightService

    async def check(
        self, source: ConfigSource, plan: CheckedPlan, job_envs: Mapping[str, str]
    ) -> CheckSummary:
        """``plan`` says the class the config must be, where it runs and the variables
        pre-flight looks at; ``job_envs``: the variables the caller adds to the job."""
        validation, preflight = await asyncio.gather(
            self.validation.validate_document(source.document, source.cwd, plan.validation_kind),
            # Strict validation (above) replaces pre-flight's own config check.
            self.preflight.check_document(
                source.document,
                source.cwd,
                plan.check_target,
                envs=plan.check_envs,
                validate=False,
            ),
        )
        return summarize_checks(validation, preflight, env_findings(job_envs))


def env_findings(envs: Mapping[str, str]) -> list[Finding]:
    """Variables that change which code the job loads: allowed, but said out loud."""
    return [
        Finding(
            check="envs",
            field=name,
            message=f"envs sets {name}, which changes which code the job loads.",
            hint="Allowed; make sure it is meant (it is passed to the job as given).",
        )
        for name in code_loading_names(envs)
    ]


def summarize_checks(
    validation: ValidationReport,
    preflight: PreflightReport,
    extra_warnings: Sequence[Finding] = (),
) -> CheckSummary:
    preflight_errors = [f for f in preflight.errors if f.check != "config"]
    blocking = not validation.valid or bool(preflight_errors)
    warnings = [*extra_warnings, *(f for f in preflight.warnings if f.check != "config")]
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
