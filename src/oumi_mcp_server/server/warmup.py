"""Start warming oumi once the client has finished its handshake."""

from __future__ import annotations

from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

from oumi_mcp_server.warmup import Warmup

# Methods that are part of connecting; warming starts after them, never during.
HANDSHAKE_METHODS = frozenset({"initialize", "server/discover"})


class WarmupAfterHandshake:
    def __init__(self, warmup: Warmup) -> None:
        self._warmup = warmup

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method not in HANDSHAKE_METHODS:
            self._warmup.start()
        return result
