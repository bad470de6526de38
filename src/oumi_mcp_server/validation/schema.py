"""Walk a YAML mapping alongside Oumi's config dataclasses to find unknown keys.

OmegaConf stops at the first unknown key and reports it without its full path;
this walk reports every unknown key with its dotted path and a "did you mean".
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import re
import types
import typing
from typing import Any

from oumi_mcp_server.validation.documents import shown_key
from oumi_mcp_server.validation.problems import Problem


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        if len(options) == 1:
            return options[0]
    return annotation


def _field_types(cls: type) -> dict[str, Any]:
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # unresolvable forward references: fall back to raw annotations
        hints = {}
    return {
        field.name: _unwrap_optional(hints.get(field.name, field.type))
        for field in dataclasses.fields(cls)
    }


def _closest(key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return close[0] if close else None


def _suggestion(key: str, known: list[str]) -> str:
    close = _closest(key, known)
    if close:
        return f"Did you mean '{close}'?"
    return f"Valid fields here: {', '.join(sorted(known))}."


def docs_name(cls: type, field: str = "") -> str:
    """The get_docs name of a config class, or of one of its fields."""
    name = f"{cls.__module__}.{cls.__qualname__}"
    return f"{name}.{field}" if field else name


def field_docs_name(cls: type, path: str) -> str:
    """The get_docs name of the field at a dotted path ('training.learning_rate') of a
    config class: the deepest dataclass field the path reaches ('' when none)."""
    steps = [step for step in re.split(r"[.\[\]]+", path) if step and not step.isdigit()]
    owner: Any = cls
    found = ""
    for step in steps:
        if not (isinstance(owner, type) and dataclasses.is_dataclass(owner)):
            break
        types_by_field = _field_types(owner)
        if step not in types_by_field:
            break
        found = docs_name(owner, step)
        owner = _element_type(types_by_field[step])
    return found


def _element_type(annotation: Any) -> Any:
    """A field's dataclass, looking through list[...] and dict[..., ...]."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (list, dict) and args:
        return _unwrap_optional(args[-1])
    return annotation


def _walk_value(annotation: Any, value: Any, path: str, problems: list[Problem]) -> None:
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        if isinstance(value, dict):
            unknown_field_problems(annotation, value, path, problems)
        return
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args and isinstance(value, list):
        for index, item in enumerate(value):
            _walk_value(_unwrap_optional(args[0]), item, f"{path}[{index}]", problems)
    elif origin is dict and len(args) == 2 and isinstance(value, dict):
        for key, item in value.items():
            _walk_value(_unwrap_optional(args[1]), item, f"{path}.{shown_key(key)}", problems)


def unknown_field_problems(
    cls: type, data: dict[str, Any], prefix: str = "", problems: list[Problem] | None = None
) -> list[Problem]:
    """Every key in ``data`` (recursively) that ``cls`` does not define."""
    found: list[Problem] = [] if problems is None else problems
    types_by_field = _field_types(cls)
    for key, value in data.items():
        name = shown_key(key)
        path = f"{prefix}.{name}" if prefix else name
        if key not in types_by_field:
            found.append(
                Problem(
                    field=path,
                    message=f"Unknown field '{name}' in {cls.__name__}.",
                    hint=_suggestion(str(key), list(types_by_field)),
                    docs=docs_name(cls, _closest(str(key), list(types_by_field)) or ""),
                )
            )
            continue
        _walk_value(types_by_field[key], value, path, found)
    return found


def without_unknown_fields(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``data`` without the keys ``cls`` does not define (recursively, as
    ``unknown_field_problems`` finds them). Keys are followed as keys, never as dotted
    text: a key may itself hold dots (``github.com``) or brackets."""
    types_by_field = _field_types(cls)
    return {
        key: _known_part(types_by_field[key], value)
        for key, value in data.items()
        if key in types_by_field
    }


def _known_part(annotation: Any, value: Any) -> Any:
    if isinstance(annotation, type) and dataclasses.is_dataclass(annotation):
        return without_unknown_fields(annotation, value) if isinstance(value, dict) else value
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list and args and isinstance(value, list):
        return [_known_part(_unwrap_optional(args[0]), item) for item in value]
    if origin is dict and len(args) == 2 and isinstance(value, dict):
        return {key: _known_part(_unwrap_optional(args[1]), item) for key, item in value.items()}
    return copy.deepcopy(value)
