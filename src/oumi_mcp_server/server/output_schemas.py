"""Tools' output schemas, published from a file generated from the answer models.

Deriving the output schemas of twenty tools from their pydantic models at every start
costs more than everything else we add to the SDK's start-up; the schemas change only
when the models do. So they are generated once into ``output_schemas.json`` beside this
module (``make output-schemas`` runs scripts/write_output_schemas.py), a tool whose
schema is in the file publishes it as is, and the SDK still validates every answer
against the model. A test fails when the file
and the models disagree; a tool missing from the file is derived as usual.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable
from functools import cache
from importlib import resources as package_files
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

from mcp.server.mcpserver.utilities.func_metadata import FuncMetadata
from mcp.types import CallToolResult
from pydantic import BaseModel

SCHEMAS_FILE = "output_schemas.json"


def answer_model_of(fn: Callable[..., Any]) -> type[BaseModel] | None:
    """The model a tool answers with: its return type, or the model annotated on a
    ``CallToolResult`` (``Annotated[CallToolResult, Model]``); None for anything else."""
    returned = typing.get_type_hints(fn, include_extras=True).get("return")
    if get_origin(returned) is Annotated:
        base, *metadata = get_args(returned)
        if base is not CallToolResult or len(metadata) != 1:
            return None
        returned = metadata[0]
    if isinstance(returned, type) and issubclass(returned, BaseModel):
        return returned
    return None


@cache
def published_schemas() -> dict[str, dict[str, Any]]:
    """The generated schemas by tool name (empty when the file is missing)."""
    source = package_files.files("oumi_mcp_server.server").joinpath(SCHEMAS_FILE)
    try:
        loaded = json.loads(source.read_text("utf-8"))
    except FileNotFoundError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def attach(metadata: FuncMetadata, model: type[BaseModel], schema: dict[str, Any]) -> None:
    """Give a tool registered without structured output its model and published schema
    (the SDK reads both when it lists the tool and when it checks an answer)."""
    metadata.output_model = model
    metadata.output_schema = schema
    metadata.wrap_output = False


def write_schemas(schemas: dict[str, dict[str, Any]], folder: Path) -> Path:
    path = folder / SCHEMAS_FILE
    path.write_text(json.dumps(schemas, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path
