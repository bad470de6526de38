"""Write every call of a mutating tool to the audit log, refused calls included."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from pydantic import BaseModel

from oumi_mcp_server.audit import append_entry
from oumi_mcp_server.blocking import run_blocking
from oumi_mcp_server.server.requests import tool_call_params

logger = logging.getLogger(__name__)

AUDIT_WRITE_TIMEOUT_S = 5.0
SUMMARY_FIELDS = ("job_id", "dry_run", "launched", "state", "action", "message")


class AuditMutatingCalls:
    def __init__(self, server: MCPServer, state_dir: Path, transport: str) -> None:
        self._server = server
        self._state_dir = state_dir
        self._transport = transport
        self._mutating: frozenset[str] | None = None

    async def _is_mutating(self, tool: str) -> bool:
        if self._mutating is None:
            self._mutating = frozenset(
                listed.name
                for listed in await self._server.list_tools()
                if listed.annotations is None or not listed.annotations.read_only_hint
            )
        return tool in self._mutating

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = tool_call_params(ctx)
        if params is None:
            return await call_next(ctx)
        tool = str(params.get("name"))
        if not await self._is_mutating(tool):
            return await call_next(ctx)
        raw = params.get("arguments")
        arguments: dict[str, Any] = raw if isinstance(raw, dict) else {}
        started = time.monotonic()
        ok, answer = False, "the call did not finish (the server stopped or the client left)"
        try:
            result = await call_next(ctx)
            ok, answer = _outcome(result)
            return result
        except Exception as exc:
            answer = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            await self._write(tool, arguments, ok, answer, time.monotonic() - started)

    async def _write(
        self, tool: str, arguments: dict[str, Any], ok: bool, answer: str, duration_s: float
    ) -> None:
        try:
            await run_blocking(
                lambda: append_entry(
                    self._state_dir,
                    tool=tool,
                    arguments=arguments,
                    transport=self._transport,
                    ok=ok,
                    answer=answer,
                    duration_s=duration_s,
                ),
                timeout_s=AUDIT_WRITE_TIMEOUT_S,
                what="Writing the audit log",
            )
        except Exception as exc:  # the call's answer matters more than its audit line
            logger.warning("Could not write the audit log entry of %s: %s", tool, exc)


def _outcome(result: HandlerResult) -> tuple[bool, str]:
    """(succeeded, a short answer) of a tools/call result, as a model or as plain JSON."""
    data = result.model_dump(by_alias=True) if isinstance(result, BaseModel) else result
    if not isinstance(data, dict):
        return True, "ok"
    content = data.get("content") or []
    text = next((str(part.get("text")) for part in content if isinstance(part, dict)), "")
    if data.get("isError"):
        return False, text.splitlines()[0] if text else "error"
    structured = data.get("structuredContent") or {}
    shown = [f"{key}={structured[key]}" for key in SUMMARY_FIELDS if key in structured]
    return True, ", ".join(shown) or "ok"
