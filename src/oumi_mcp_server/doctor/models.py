"""What doctor answers: one section per check, and the client configuration to paste."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Section:
    """One check: its status, one line on what was found, and a fix when it is not ok."""

    name: str
    status: Status
    detail: str
    fix: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "fix": self.fix or None,
            "data": self.data,
        }


@dataclass(frozen=True)
class ClientConfig:
    """How to register this installation with MCP clients (absolute paths, ready to paste)."""

    command: str  # the oumi-mcp-server console script
    args: tuple[str, ...]
    claude_code: str  # a shell command
    json_snippet: dict[str, Any]  # {"mcpServers": {...}}: Claude Desktop and Cursor

    def to_json(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "args": list(self.args),
            "claude_code": self.claude_code,
            "claude_desktop": self.json_snippet,
            "cursor": self.json_snippet,
        }


@dataclass(frozen=True)
class DoctorReport:
    sections: list[Section]
    client_config: ClientConfig
    seconds: float

    @property
    def blocked(self) -> bool:
        """Something stops the server from being used (a failed section)."""
        return any(section.status == "fail" for section in self.sections)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.blocked,
            "sections": [section.to_json() for section in self.sections],
            "client_config": self.client_config.to_json(),
            "seconds": round(self.seconds, 2),
        }
