"""Ready-to-paste MCP client configuration, with this installation's absolute paths."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from oumi_mcp_server.doctor.models import ClientConfig

SCRIPT = "oumi-mcp-server"
SERVER_NAME = "oumi"


def console_script(argv0: str | None = None) -> Path:
    """The ``oumi-mcp-server`` this doctor belongs to: beside this Python (its venv), the one
    that was run, or the one on PATH; as a last resort ``python -m oumi_mcp_server`` works."""
    candidates = [Path(sys.executable).parent / SCRIPT]
    run = Path(argv0 if argv0 is not None else sys.argv[0])
    if run.name == SCRIPT:
        candidates.append(run.absolute())
    found = shutil.which(SCRIPT)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate.absolute()
    return Path(sys.executable).absolute()


def client_config(script: Path | None = None) -> ClientConfig:
    path = script if script is not None else console_script()
    args: tuple[str, ...]
    if path.name == SCRIPT:
        command, args = str(path), ("serve",)
    else:  # no console script: run the module with this Python
        command, args = str(path), ("-m", "oumi_mcp_server", "serve")
    claude = shlex.join(["claude", "mcp", "add", SERVER_NAME, "--", command, *args])
    snippet = {"mcpServers": {SERVER_NAME: {"command": command, "args": list(args)}}}
    return ClientConfig(command=command, args=args, claude_code=claude, json_snippet=snippet)
