"""Progress and log messages for tool calls.

Every tool call gets a ``CallProgress`` (call_progress.py). When the client sent a
progress token, a heartbeat sends ``notifications/progress`` once a second after
the first second (a fast call sends none): the stage the domain code named, and
the seconds so far. Each send is bounded and the heartbeat is cancelled the
moment the call ends, so progress never holds a call past its own time limit.

Warnings this package logs during a call go to the client as log messages
(``notifications/message``, tied to the call) before the answer: on handshake-era
connections always, on 2026-07-28 ones when the request opted in with a log level,
as the SDK decides. ``logging/setLevel`` sets a connection's threshold (default:
warning).
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.shared.jsonrpc_dispatcher import progress_token_from_params
from mcp.types import EmptyResult, SetLevelRequestParams

from oumi_mcp_server import call_progress
from oumi_mcp_server.call_progress import CallProgress, KeepCallWarnings
from oumi_mcp_server.masking import MaskSecretsInLogs
from oumi_mcp_server.server.requests import client_connection, tool_call_params

logger = logging.getLogger(__name__)

HEARTBEAT_S = 1.0
SEND_WITHIN_S = 0.5  # one notification may take this long, then it is dropped
MAX_LOG_CHARS = 2000
LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
DEFAULT_CLIENT_LEVEL = "warning"
_LEVEL_KEY = "oumi_mcp_log_level"
PACKAGE_LOGGER = "oumi_mcp_server"


def install_warning_capture() -> None:
    """Once per process: this package's warnings are kept for the call that logged them."""
    package = logging.getLogger(PACKAGE_LOGGER)
    if not any(isinstance(handler, KeepCallWarnings) for handler in package.handlers):
        handler = KeepCallWarnings()
        handler.addFilter(MaskSecretsInLogs())
        package.addHandler(handler)


def register_set_level(lowlevel: Server[Any]) -> None:
    async def set_level(ctx: Any, params: SetLevelRequestParams) -> EmptyResult:
        state = getattr(client_connection(ctx), "state", None)
        if isinstance(state, dict):
            state[_LEVEL_KEY] = params.level
        return EmptyResult()

    lowlevel.add_request_handler("logging/setLevel", SetLevelRequestParams, set_level)


class ReportCallProgress:
    """Middleware: a CallProgress per tool call, its heartbeat, and its warnings sent."""

    def __init__(self, heartbeat_s: float = HEARTBEAT_S) -> None:
        self._heartbeat_s = heartbeat_s
        self.sent = 0  # progress notifications sent, over the server's life

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        params = tool_call_params(ctx)
        if params is None:
            return await call_next(ctx)
        progress, token = call_progress.open_call(str(params.get("name")))
        try:
            if progress_token_from_params(params) is None:
                return await call_next(ctx)
            async with anyio.create_task_group() as beats:
                beats.start_soon(self._beat, ctx, progress)
                try:
                    result = await call_next(ctx)
                finally:
                    beats.cancel_scope.cancel()
            return result
        finally:
            call_progress.close_call(token)
            if progress.records:  # most calls log nothing: no cancel scope for them
                with anyio.move_on_after(SEND_WITHIN_S, shield=True):
                    await _send_warnings(ctx, progress)

    async def _beat(self, ctx: ServerRequestContext[Any, Any], progress: CallProgress) -> None:
        while True:
            await anyio.sleep(self._heartbeat_s)
            seconds = progress.elapsed_s()
            text = progress.text or "working"
            message = f"{progress.tool}: {text} ({seconds:.0f} s)"
            done, total = progress.done, progress.total
            self.sent += 1
            with anyio.move_on_after(SEND_WITHIN_S):
                if total:
                    await ctx.session.report_progress(done or 0.0, total, message)
                else:
                    await ctx.session.report_progress(round(seconds, 1), None, message)
            await _send_warnings(ctx, progress)


async def _send_warnings(ctx: ServerRequestContext[Any, Any], progress: CallProgress) -> None:
    records = progress.take_records()
    if not records:
        return
    state = getattr(client_connection(ctx), "state", None)
    threshold = DEFAULT_CLIENT_LEVEL
    if isinstance(state, dict):
        threshold = str(state.get(_LEVEL_KEY, DEFAULT_CLIENT_LEVEL))
    for record in records:
        level = _mcp_level(record.levelno)
        if LEVELS.index(level) < LEVELS.index(threshold):
            continue
        with anyio.move_on_after(SEND_WITHIN_S):
            await ctx.session.send_log_message(
                level,  # type: ignore[arg-type]
                record.getMessage()[:MAX_LOG_CHARS],
                logger=record.name,
                related_request_id=ctx.request_id,
            )
    if progress.dropped_records:
        logger.debug("%d more warnings of %s not sent", progress.dropped_records, progress.tool)
        progress.dropped_records = 0


def _mcp_level(levelno: int) -> str:
    if levelno >= logging.CRITICAL:
        return "critical"
    if levelno >= logging.ERROR:
        return "error"
    if levelno >= logging.WARNING:
        return "warning"
    return "info"
