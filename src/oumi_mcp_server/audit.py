"""The audit log: every call of a tool that starts, cancels or deletes something, one JSON line.

``<state dir>/audit.jsonl`` (0600) gets the time, the tool, its arguments with
secrets masked and long values cut, the transport it came over, whether it
succeeded (and what it answered, in short) and how long it took. Appending a
line is one ``write`` on a file opened with O_APPEND, so several server
processes can share the log. Blocking: call from a worker thread.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from oumi_mcp_server.masking import mask_env, mask_text
from oumi_mcp_server.private import open_private, private_dir

AUDIT_FILE = "audit.jsonl"
MAX_SHOWN_CHARS = 300  # of one argument value or of the answer
MAX_SHOWN_ITEMS = 64


def audit_path(state_dir: Path) -> Path:
    return state_dir / AUDIT_FILE


def masked_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments as the log may keep them: secrets masked, long values cut."""
    return {str(name): _masked(str(name), value) for name, value in arguments.items()}


def _masked(name: str, value: object) -> object:
    if isinstance(value, Mapping):
        return {key: _cut(text) for key, text in mask_env(dict(value)).items()}
    if isinstance(value, list):
        return [_masked(name, item) for item in value[:MAX_SHOWN_ITEMS]]
    if isinstance(value, str):
        return _cut(mask_text(value))
    return value if isinstance(value, int | float | bool) or value is None else _cut(str(value))


def _cut(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}... ({len(text):,} characters)"


def append_entry(
    state_dir: Path,
    *,
    tool: str,
    arguments: Mapping[str, Any],
    transport: str,
    ok: bool,
    answer: str,
    duration_s: float,
) -> None:
    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "tool": tool,
        "arguments": masked_arguments(arguments),
        "transport": transport,
        "result": "ok" if ok else "error",
        "answer": _cut(mask_text(answer)),
        "duration_ms": round(duration_s * 1000, 1),
    }
    line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
    descriptor = open_private(audit_path(private_dir(state_dir)), os.O_WRONLY | os.O_APPEND)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)
