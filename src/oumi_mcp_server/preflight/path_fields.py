"""Find the path-like values in a config, with their dotted field names."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from oumi_mcp_server.paths import expand_user_path

INPUT_KEYS = frozenset(
    {
        "dataset_path",
        "data_files",
        "input_path",
        "adapter_model",
        "resume_from_checkpoint",
        "environment_config_path",
        "checkpoints_dir",
        "working_dir",
        "tokenizer_path",
        "chat_template_path",
    }
)
# Usually Hugging Face ids; local paths only when they clearly are paths.
MAYBE_LOCAL_KEYS = frozenset({"model_name", "tokenizer_name", "processor_name"})
OUTPUT_KEYS = frozenset({"output_dir", "output_path", "progress_path", "telemetry_dir"})
REMOTE_PREFIXES = ("gs://", "s3://", "r2://", "az://", "https://", "http://", "hf://", "cos://")
_SCRIPT_TOKEN = re.compile(r"^[\w./~-]+\.(sh|py|yaml|yml|json|jsonl)$")

Role = Literal["input", "output"]


@dataclass(frozen=True)
class PathField:
    field: str
    raw: str
    role: Role


def is_remote(value: str) -> bool:
    return value.startswith(REMOTE_PREFIXES)


def looks_like_path(value: str, client_cwd: Path) -> bool:
    """For model/tokenizer names: a path only if it reads as one or exists locally."""
    if value.startswith(("/", "./", "../", "~")):
        return True
    return expand_user_path(value, client_cwd).exists()


def walk(node: Any, prefix: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path, str(key), value
            yield from walk(value, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from walk(item, f"{prefix}[{index}]")


def _strings(value: Any) -> list[str]:
    if isinstance(value, str) and value.strip():
        return [value.strip()]
    if isinstance(value, list):
        return [item.strip() for item in value if isinstance(item, str) and item.strip()]
    return []


def config_path_fields(data: dict[str, Any], client_cwd: Path) -> list[PathField]:
    """Path-like fields of any Oumi config (job-specific fields come from job_path_fields)."""
    found: list[PathField] = []
    for path, key, value in walk(data):
        if key in ("file_mounts", "storage_mounts", "setup", "run"):
            continue
        if key in INPUT_KEYS or key in OUTPUT_KEYS:
            role: Role = "output" if key in OUTPUT_KEYS else "input"
            found += [PathField(path, raw, role) for raw in _strings(value)]
        elif key in MAYBE_LOCAL_KEYS:
            found += [
                PathField(path, raw, "input")
                for raw in _strings(value)
                if looks_like_path(raw, client_cwd)
            ]
    return found


def script_references(script: str) -> list[str]:
    """Files a setup/run script refers to by relative or absolute path."""
    try:
        tokens = shlex.split(script, comments=True)
    except ValueError:
        tokens = script.split()
    return [
        token
        for token in tokens
        if _SCRIPT_TOKEN.match(token) and not token.startswith("-") and "/" in token
    ]


def job_path_fields(data: dict[str, Any]) -> list[PathField]:
    """file_mounts sources and files named in setup/run."""
    found: list[PathField] = []
    mounts = data.get("file_mounts")
    if isinstance(mounts, dict):
        for remote, local in mounts.items():
            if isinstance(local, str) and not is_remote(local):
                found.append(PathField(f"file_mounts.{remote}", local, "input"))
    for key in ("setup", "run"):
        script = data.get(key)
        if isinstance(script, str):
            found += [PathField(key, ref, "input") for ref in script_references(script)]
    return found


def mounted_destinations(data: dict[str, Any]) -> list[str]:
    """Remote paths provided by file_mounts and storage_mounts of a job config."""
    destinations: list[str] = []
    for key in ("file_mounts", "storage_mounts"):
        mounts = data.get(key)
        if isinstance(mounts, dict):
            destinations += [str(remote) for remote in mounts]
    return destinations
