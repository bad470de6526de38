"""Which library recipes to suggest when a config has errors: by task, never by cloud."""

from __future__ import annotations

import re
from typing import Any

from oumi_mcp_server.library.classify import (
    CLASS_TASKS,
    RUN_COMMAND_TASKS,
    TRAINER_TASKS,
    family_from_model,
)
from oumi_mcp_server.preflight.context import PreflightContext

_OUMI_COMMAND = re.compile(r"\boumi\s+([a-z]+)\b")
DEFAULT_TASK = "sft"


def _section(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def task_type_for(ctx: PreflightContext) -> str:
    """The task the config is for, from its kind, trainer type or job run line."""
    kind = ctx.kind.kind.name
    if kind in CLASS_TASKS:
        return CLASS_TASKS[kind]
    if kind == "training":
        trainer = str(_section(ctx.data, "training").get("trainer_type", "")).upper()
        return TRAINER_TASKS.get(trainer, DEFAULT_TASK)
    if kind == "job":
        match = _OUMI_COMMAND.search(str(ctx.data.get("run", "")))
        if match:
            return RUN_COMMAND_TASKS.get(match.group(1), DEFAULT_TASK)
    return DEFAULT_TASK


def model_family_for(ctx: PreflightContext) -> str | None:
    name = _section(ctx.data, "model").get("model_name")
    return family_from_model(name) if isinstance(name, str) and name else None
