"""Plain facts read out of a YAML config: header comment, nested keys, datasets, text."""

from __future__ import annotations

import re
from typing import Any

_HEADER_SKIP = re.compile(r"^(usage|requirements|see also|note|notes)\b:?", re.IGNORECASE)


def header_comment(text: str) -> list[str]:
    """The comment lines at the top of a YAML file, without their ``#``."""
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            if lines:
                lines.append("")
            continue
        if not stripped.startswith("#"):
            break
        lines.append(stripped.lstrip("#").strip())
    return lines


def dig(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def first_header_line(header: list[str]) -> str | None:
    """The header's first line that describes the config (not usage or requirements)."""
    for line in header:
        if not line or _HEADER_SKIP.match(line) or line.startswith(("-", "http", "oumi ")):
            continue
        return line[:200]
    return None


def dataset_names(data: Any, found: list[str]) -> list[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("dataset_name", "dataset_path") and isinstance(value, str):
                if value not in found:
                    found.append(value)
            else:
                dataset_names(value, found)
    elif isinstance(data, list):
        for item in data:
            dataset_names(item, found)
    return found


def scalars(data: Any, out: list[str], depth: int = 0) -> None:
    """Keys and short scalar values, for content search."""
    if depth > 8:
        return
    if isinstance(data, dict):
        for key, value in data.items():
            out.append(str(key))
            scalars(value, out, depth + 1)
    elif isinstance(data, list):
        for item in data[:50]:
            scalars(item, out, depth + 1)
    elif isinstance(data, str):
        if len(data) <= 200:
            out.append(data)
    elif data is not None and not isinstance(data, bool):
        out.append(str(data))
