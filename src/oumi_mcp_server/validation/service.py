"""validate_config: is this file a valid Oumi config of the kind it claims to be?"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import Field

from oumi_mcp_server.answer_model import AnswerModel
from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.validation.documents import (
    ConfigDocument,
    deadline_after,
    read_project_config,
)
from oumi_mcp_server.validation.engine import ValidateDocument, validate_document
from oumi_mcp_server.validation.kinds import choose_kind
from oumi_mcp_server.validation.problems import Problem


class ValidationReport(AnswerModel):
    valid: bool
    config_path: str = Field(description="The file that was validated (absolute).")
    kind: str = Field(description="Config kind: training, evaluation, inference, job, ...")
    config_class: str = Field(description="The Oumi class the config was validated against.")
    kind_inferred: bool = Field(description="True when the kind was inferred, not given.")
    kind_reason: str
    errors: list[Problem]
    warnings: list[Problem]
    summary: str
    next_step: str


def validate_config_file(
    config: str,
    client_cwd: str,
    task_type: str,
    extra_roots: Sequence[Path] = (),
    deadline: float | None = None,
    validate: ValidateDocument = validate_document,
) -> ValidationReport:
    """Blocking: resolve, read, classify and validate one config file."""
    cwd, document = read_project_config(config, client_cwd, extra_roots, deadline)
    return validate_loaded(document, cwd, task_type, validate)


def validate_loaded(
    document: ConfigDocument,
    client_cwd: Path,
    task_type: str,
    validate: ValidateDocument = validate_document,
) -> ValidationReport:
    """Blocking: classify and validate a config already read (``client_cwd`` resolved)."""
    choice = choose_kind(task_type, document.data, document.path.name)
    errors, warnings = validate(choice.kind, document, client_cwd)
    return _report(
        document.path,
        choice.kind.name,
        choice.kind.class_name,
        choice.inferred,
        choice.reason,
        errors,
        warnings,
    )


def _report(
    path: Path,
    kind: str,
    class_name: str,
    inferred: bool,
    reason: str,
    errors: list[Problem],
    warnings: list[Problem],
) -> ValidationReport:
    if errors:
        summary = f"{len(errors)} problem(s): {path.name} is not a valid {class_name}."
        next_step = "Fix the fields listed in errors, then validate again."
    else:
        summary = f"{path.name} is a valid {class_name}" + (
            f" ({len(warnings)} warning(s))." if warnings else "."
        )
        next_step = "Run pre_flight_check with the same client_cwd before launching."
    return ValidationReport(
        valid=not errors,
        config_path=str(path),
        kind=kind,
        config_class=class_name,
        kind_inferred=inferred,
        kind_reason=reason,
        errors=errors,
        warnings=warnings,
        summary=summary,
        next_step=next_step,
    )


class ValidationService:
    def __init__(
        self,
        *,
        timeout_s: float,
        extra_roots: Sequence[Path] = (),
        validate: ValidateDocument = validate_document,
    ) -> None:
        """``validate``: Oumi's own checks, here or in the engine worker."""
        self._timeout_s = timeout_s
        self._roots = tuple(extra_roots)  # besides the project: where configs may be read
        self._validate = validate

    async def validate(
        self, config: str, client_cwd: str, task_type: str = "auto"
    ) -> ValidationReport:
        deadline = deadline_after(self._timeout_s)
        return await self._in_thread(
            lambda: validate_config_file(
                config, client_cwd, task_type, self._roots, deadline, self._validate
            )
        )

    async def validate_document(
        self, document: ConfigDocument, client_cwd: Path, task_type: str = "auto"
    ) -> ValidationReport:
        """Validate a config the caller has already read (it is not read again)."""
        return await self._in_thread(
            lambda: validate_loaded(document, client_cwd, task_type, self._validate)
        )

    async def _in_thread(self, validate: Callable[[], ValidationReport]) -> ValidationReport:
        return await run_blocking(
            validate,
            timeout_s=self._timeout_s,
            what="Config validation (importing oumi on first use)",
            next_step="Oumi may still be loading; call validate_config again in a minute.",
        )
