"""Read a YAML config file with one clear message for each way it can be unusable."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oumi_mcp_server.errors import OumiMcpError

MAX_CONFIG_BYTES = 5 * 1024 * 1024


class ConfigFileError(OumiMcpError):
    """The file cannot be read as a YAML mapping."""


@dataclass(frozen=True)
class ConfigDocument:
    path: Path
    text: str
    data: dict[str, Any]


def load_config_document(path: Path) -> ConfigDocument:
    """Parse ``path`` as a YAML mapping. Blocking: call from a worker thread."""
    import yaml

    size = path.stat().st_size
    if size > MAX_CONFIG_BYTES:
        raise ConfigFileError(
            f"{path} is {size} bytes; a config is at most {MAX_CONFIG_BYTES} bytes.",
            next_step="Check that this is an Oumi YAML config.",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).",
            next_step="Save the config as UTF-8 YAML.",
        ) from exc
    if not text.strip():
        raise ConfigFileError(f"{path} is empty.", next_step="Write the config, then try again.")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigFileError(
            f"YAML syntax error in {path}{where}: {problem}.",
            next_step="Fix the YAML at that position (indentation, quotes, colons).",
        ) from exc
    if data is None:
        raise ConfigFileError(
            f"{path} has only comments.", next_step="Write the config, then try again."
        )
    if not isinstance(data, dict):
        raise ConfigFileError(
            f"The top level of {path} is a {type(data).__name__}, not a mapping of fields.",
            next_step="An Oumi config starts with top-level keys such as model:, data:, training:.",
        )
    return ConfigDocument(path=path, text=text, data=data)
