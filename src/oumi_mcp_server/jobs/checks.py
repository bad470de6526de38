"""A launch's config, read once, and its checks: strict validation plus pre-flight.

The config a request names is read and parsed once (under its own time limit,
so a slow disk is reported as a slow disk), then handed as it is to planning,
validation and pre-flight. A job config's run block may hand oumi a config of
its own (``oumi train -c train.yaml``): the plan names it, and it is read the
same way (bounded, inside the project or the extra roots only) and checked as
its command's kind, for the same target. Its problems are labelled with its
file and block the launch like the top config's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Protocol

from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.errors import InvalidArgumentError, NotFoundError
from oumi_mcp_server.jobs.models import CheckSummary
from oumi_mcp_server.masking import code_loading_names
from oumi_mcp_server.preflight.models import Finding, PreflightReport
from oumi_mcp_server.preflight.service import PreflightService
from oumi_mcp_server.settings import CONFIG_READ_TIMEOUT_S
from oumi_mcp_server.validation.documents import (
    ConfigDocument,
    ConfigFileError,
    deadline_after,
    read_project_config,
)
from oumi_mcp_server.validation.kinds import choose_kind
from oumi_mcp_server.validation.problems import Problem
from oumi_mcp_server.validation.service import ValidationReport, ValidationService

JOB_KIND = "job"


@dataclass(frozen=True)
class ConfigSource:
    """The project directory and the config of one request, read once."""

    cwd: Path  # client_cwd, resolved
    document: ConfigDocument
    roots: tuple[Path, ...] = ()  # besides the project: where configs may be read

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
        cwd, document = read_project_config(config_path, client_cwd, extra_roots, deadline)
        return ConfigSource(cwd, document, tuple(extra_roots))

    return await run_blocking(
        read,
        timeout_s=timeout_s,
        what=f"Reading the config file '{config_path}'",
        next_step="The disk (or network mount) holding it is not answering; check it, "
        "then call again.",
    )


@dataclass(frozen=True)
class NestedConfig:
    """A config the launched config hands to oumi (a job config's ``oumi train -c f``)."""

    written: str  # as the run block writes it
    kind: str  # the validation kind of the command that reads it
    path: Path | None  # where it is on this machine; None: it cannot be read here
    base: Path  # the directory the job runs in: its relative paths resolve there
    unchecked: str = ""  # why it cannot be read here (path None)
    may_be_created: bool = False  # missing here is a warning: the job's setup may create it


class CheckedPlan(Protocol):
    """What the checks need to know of a launch plan."""

    @property
    def validation_kind(self) -> str: ...

    @property
    def check_target(self) -> str: ...

    @property
    def check_envs(self) -> dict[str, str]: ...

    @property
    def nested_configs(self) -> tuple[NestedConfig, ...]: ...

    @property
    def check_cluster(self) -> str:
        """The cluster the job runs on (Slurm's user@host), "" when the plan names none."""


@dataclass(frozen=True)
class NestedChecks:
    """The checks of one nested config, each problem labelled with its file."""

    label: str
    checked: bool  # False: it could not be read here (a warning says why)
    validation_errors: list[Problem]
    preflight_errors: list[Finding]
    warnings: list[Finding]

    @property
    def errors(self) -> int:
        return len(self.validation_errors) + len(self.preflight_errors)


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
        (validation, preflight), nested = await asyncio.gather(
            self._check_document(source.document, source.cwd, plan, plan.validation_kind),
            asyncio.gather(
                *(self._check_nested(source, plan, item) for item in plan.nested_configs)
            ),
        )
        return summarize_checks(validation, preflight, env_findings(job_envs), nested)

    async def _check_document(
        self, document: ConfigDocument, cwd: Path, plan: CheckedPlan, kind: str
    ) -> tuple[ValidationReport, PreflightReport]:
        validation, preflight = await asyncio.gather(
            self.validation.validate_document(document, cwd, kind),
            # Strict validation (above) replaces pre-flight's own config check.
            self.preflight.check_document(
                document,
                cwd,
                plan.check_target,
                envs=plan.check_envs,
                validate=False,
                cluster=plan.check_cluster,
            ),
        )
        return validation, preflight

    async def _check_nested(
        self, source: ConfigSource, plan: CheckedPlan, item: NestedConfig
    ) -> NestedChecks:
        """Read the nested config as the top one is read (bounded, confined), then validate
        it as its command's kind and pre-flight it where the job runs."""
        label = _nested_label(item, source.cwd)
        if item.path is None:
            return NestedChecks(label, False, [], [], [_unchecked(label, item.unchecked)])
        path = item.path
        try:
            document = await read_nested(path, source)
        except NotFoundError:
            reason = f"it is not found here ({path})"
            if item.may_be_created:
                reason += "; fine only if the job's setup creates it"
                return NestedChecks(label, False, [], [], [_unchecked(label, reason)])
            problem = Problem(
                field="run",
                message=f"{label}: the run block passes it to oumi, but it is not found: {path}.",
                hint="Relative paths in the run block resolve against the job's working_dir; "
                "fix the path in the run block or create the file.",
            )
            return NestedChecks(label, False, [problem], [], [])
        except (InvalidArgumentError, ConfigFileError) as exc:
            message = exc.message.removeprefix("Invalid argument 'config': ")
            problem = Problem(
                field="run",
                message=f"{label} (passed to oumi by the run block) cannot be used: {message}",
                hint=exc.next_step,
            )
            return NestedChecks(label, False, [problem], [], [])
        validation, preflight = await self._check_document(document, item.base, plan, item.kind)
        return NestedChecks(
            label,
            True,
            [_labelled_problem(label, problem) for problem in validation.errors],
            [_labelled(label, f) for f in preflight.errors if f.check != "config"],
            [_labelled(label, f) for f in preflight.warnings if f.check != "config"],
        )


async def read_nested(path: Path, source: ConfigSource) -> ConfigDocument:
    """A nested config, read exactly as the top one: inside the project or its roots."""
    nested = await read_config(str(path), str(source.cwd), source.roots)
    return nested.document


def _nested_label(item: NestedConfig, cwd: Path) -> str:
    if item.path is None:
        return item.written
    try:
        return str(item.path.relative_to(cwd))
    except ValueError:
        return str(item.path)


def _unchecked(label: str, reason: str) -> Finding:
    return Finding(
        check="run",
        field="run",
        message=f"Not checked: {label}, which the run block passes to oumi ({reason}).",
        hint="Check it with validate_config where it can be read, or write its path in the "
        "run block relative to working_dir.",
    )


def _labelled_problem(label: str, problem: Problem) -> Problem:
    return problem.model_copy(update={"message": f"{label}: {problem.message}"})


def _labelled(label: str, finding: Finding) -> Finding:
    return finding.model_copy(update={"message": f"{label}: {finding.message}"})


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
    nested: Sequence[NestedChecks] = (),
) -> CheckSummary:
    preflight_errors = [f for f in preflight.errors if f.check != "config"]
    warnings = [*extra_warnings, *(f for f in preflight.warnings if f.check != "config")]
    # A nested config is pre-flighted for the same target: what it repeats of the top
    # config's findings (the cloud's readiness, its env hints) is said once.
    seen = {(f.check, f.field, f.message) for f in [*preflight_errors, *warnings]}
    validation_errors = list(validation.errors)
    for checked in nested:
        validation_errors += checked.validation_errors
        preflight_errors += _new(checked.label, checked.preflight_errors, seen)
        warnings += _new(checked.label, checked.warnings, seen)
    valid = validation.valid and not any(checked.validation_errors for checked in nested)
    blocking = not valid or bool(preflight_errors)
    if blocking:
        count = len(validation_errors) + len(preflight_errors)
        summary = f"BLOCKED: {count} error(s) must be fixed before this job can run."
        for checked in nested:
            if checked.errors:
                summary += (
                    f" {checked.errors} of them in {checked.label}, which the run block "
                    "passes to oumi."
                )
    else:
        summary = f"{validation.summary} Pre-flight: {preflight.summary}"
        checked_too = [checked.label for checked in nested if checked.checked]
        if checked_too:
            summary += f" Also checked, as the run block calls it: {', '.join(checked_too)}."
        unchecked = [checked.label for checked in nested if not checked.checked]
        if unchecked:
            summary += f" Not checked (see warnings): {', '.join(unchecked)}."
    return CheckSummary(
        valid=valid,
        blocking=blocking,
        summary=summary,
        validation_errors=validation_errors,
        preflight_errors=preflight_errors,
        warnings=warnings,
    )


def _new(label: str, findings: Sequence[Finding], seen: set[tuple[str, str, str]]) -> list[Finding]:
    """``findings`` (labelled with ``label``) less those the top config reported already."""
    prefix = f"{label}: "
    return [f for f in findings if (f.check, f.field, f.message.removeprefix(prefix)) not in seen]
