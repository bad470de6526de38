"""Validate a config document with Oumi's own config classes.

Blocking and slow on first use (importing oumi pulls in torch): run it in a
worker thread. Relative paths are resolved against the client's directory
before Oumi's own checks run, so they never depend on the server's cwd.
Oumi's messages can quote the config's values (a token in the wrong field,
say); every value of the document is masked out of them before they are shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from oumi_mcp_server.engines import load
from oumi_mcp_server.paths import expand_user_path
from oumi_mcp_server.validation.documents import ConfigDocument
from oumi_mcp_server.validation.kinds import ConfigKind
from oumi_mcp_server.validation.problems import Problem
from oumi_mcp_server.validation.schema import (
    field_docs_name,
    unknown_field_problems,
    without_unknown_fields,
)

# Fields Oumi checks for existence while validating; they must be resolved
# against client_cwd first.
CHECKED_PATH_FIELDS = frozenset({"dataset_path", "environment_config_path"})
MAX_FINALIZE_ROUNDS = 20
_INTERPOLATION = re.compile(r"(?<!\\)\$\{")
_MISSING_PATH = re.compile(r"^(\w+) '(.+)' does not exist\.?$|^.*path does not exist: (.+)$")


# How a config document is checked with Oumi's classes: validate_document itself, or
# the same call run in the engine worker (the server process never imports oumi).
ValidateDocument = Callable[[ConfigKind, ConfigDocument, Path], tuple[list[Problem], list[Problem]]]


def warm_up_oumi() -> None:
    """Import the config classes now, so the first validation is fast."""
    load("oumi.core.configs")


def load_config_class(kind: ConfigKind) -> type:
    module_name, class_name = kind.class_path.split(":")
    cls: type = getattr(load(module_name), class_name)
    return cls


VALUE_SHOWN = "<value>"
MIN_MASKED_CHARS = 3  # shorter values are masked only where a message quotes them


def _scalars(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _scalars(value)
    elif isinstance(node, list):
        for item in node:
            yield from _scalars(item)
    elif node is not None:
        yield str(node)


def without_values(message: str, data: dict[str, Any]) -> str:
    """``message`` with every value of the config (as a whole word) replaced by <value>."""
    for value in sorted(set(_scalars(data)), key=len, reverse=True):
        if not value.strip() or value not in message:
            continue
        word = re.escape(value)
        if len(value) >= MIN_MASKED_CHARS:
            message = re.sub(rf"(?<!\w){word}(?!\w)", VALUE_SHOWN, message)
        else:
            message = re.sub(rf"(['\"]){word}\1", rf"\1{VALUE_SHOWN}\1", message)
    return message


def _omegaconf_problem(exc: Exception, data: dict[str, Any], cls: type) -> Problem:
    cause = exc.__cause__ or exc
    full_key = str(getattr(cause, "full_key", "") or "")
    message = without_values(str(getattr(cause, "msg", "") or cause).splitlines()[0], data)
    docs = field_docs_name(cls, full_key) if full_key else ""
    return Problem(
        field=full_key,
        message=message,
        hint="Check the field's type and allowed values"
        + (" (get_docs with the docs name shows them)." if docs else " in its Oumi config class."),
        docs=docs,
    )


def _checked_path_owners(obj: Any) -> Iterator[tuple[Any, str]]:
    """Every (dataclass, field name) in a loaded config whose field Oumi checks on disk."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for field in dataclasses.fields(obj):
            if field.name in CHECKED_PATH_FIELDS:
                yield obj, field.name
            else:
                yield from _checked_path_owners(getattr(obj, field.name))
    elif isinstance(obj, list | tuple):
        for item in obj:
            yield from _checked_path_owners(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _checked_path_owners(item)


def _rebase_checked_paths(config: Any, client_cwd: Path) -> None:
    """Make relative paths that Oumi checks absolute, against client_cwd (in place)."""
    for owner, name in _checked_path_owners(config):
        value = getattr(owner, name)
        if isinstance(value, str) and value:
            setattr(owner, name, str(expand_user_path(value, client_cwd)))


_FLASH_ATTENTION = re.compile(r"flash attention 2 was requested", re.IGNORECASE)


def _use_sdpa(config: Any) -> bool:
    """Switch a machine-dependent flash-attention request to sdpa so checking goes on."""
    model = getattr(config, "model", None)
    if model is None or getattr(model, "attn_implementation", None) == "sdpa":
        return False
    model.attn_implementation = "sdpa"
    return True


def _clear_path(config: Any, missing: str) -> bool:
    """Set the checked path field whose value is ``missing`` to None; True if found."""
    for owner, name in _checked_path_owners(config):
        if getattr(owner, name) == missing:
            setattr(owner, name, None)
            return True
    return False


def _finalize(config: Any, data: dict[str, Any]) -> tuple[list[Problem], list[Problem]]:
    """Run Oumi's semantic checks; missing paths become warnings and checking goes on."""
    warnings: list[Problem] = []
    for _ in range(MAX_FINALIZE_ROUNDS):
        try:
            config.finalize_and_validate()
        except Exception as exc:
            text = str(exc).strip()
            match = _MISSING_PATH.match(text)
            missing = (match.group(2) or match.group(3)) if match else None
            if _FLASH_ATTENTION.search(text) and _use_sdpa(config):
                warnings.append(
                    Problem(
                        field="model.attn_implementation",
                        message="Flash attention 2 is not available on this machine.",
                        hint="Fine for a GPU VM with flash-attn installed; for a local CPU run "
                        "use attn_implementation: sdpa.",
                    )
                )
                continue
            if missing and _clear_path(config, missing):
                warnings.append(
                    Problem(
                        field=match.group(1) if match and match.group(1) else "",
                        message=f"{missing} does not exist (resolved against client_cwd).",
                        hint="pre_flight_check tells whether this blocks a local or cloud run.",
                    )
                )
                continue
            message = without_values(text, data) if text else type(exc).__name__
            return [Problem(field="", message=message, hint=_hint(exc))], warnings
        return [], warnings
    return [], warnings


def _hint(exc: Exception) -> str:
    return (
        f"Oumi's own validation raised {type(exc).__name__}; fix the field it names "
        "(compare with a library recipe from search_configs)."
    )


# Fields of the v1 analyze config that `oumi analyze` in 0.9 rejects.
OLD_ANALYZE_FIELDS = frozenset({"dataset_source", "processor_name", "is_multimodal"})


def _validate_typed_analyze(cls: type, data: dict[str, Any]) -> tuple[list[Problem], list[Problem]]:
    old = sorted(OLD_ANALYZE_FIELDS & set(data))
    if old:
        return [
            Problem(
                field=old[0],
                message=f"Old (v1) analyze config format: {', '.join(old)}.",
                hint="oumi analyze in 0.9 reads the typed format: analyzers entries use "
                "'type' and 'display_name'; see guidance://mle-analyze.",
            )
        ], []
    unknown = unknown_field_problems(cls, data)
    try:
        cls.from_dict(data, allow_custom_code=True)  # type: ignore[attr-defined]
    except Exception as exc:
        message = without_values(str(exc), data)
        return [*unknown, Problem(field="", message=message, hint=_hint(exc))], []
    return unknown, []


def validate_document(
    kind: ConfigKind, document: ConfigDocument, client_cwd: Path
) -> tuple[list[Problem], list[Problem]]:
    """(errors, warnings) for ``document`` as a config of ``kind``."""
    cls = load_config_class(kind)
    if kind.name == "analyze":
        return _validate_typed_analyze(cls, document.data)
    unknown = unknown_field_problems(cls, document.data)
    text = document.text
    if unknown:
        # Keep checking the rest: Oumi sees the config without the unknown keys.
        import yaml

        text = yaml.safe_dump(without_unknown_fields(cls, document.data))
    try:
        config = cls.from_str(_INTERPOLATION.sub("\\${", text))  # type: ignore[attr-defined]
    except Exception as exc:  # OmegaConf: wrong types, bad enum values, bad structure
        return [*unknown, _omegaconf_problem(exc, document.data, cls)], []
    if unknown:
        return unknown, []
    _rebase_checked_paths(config, client_cwd)
    return _finalize(config, document.data)
