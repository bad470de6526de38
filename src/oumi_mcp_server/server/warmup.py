"""Start warming oumi (and the clouds list_jobs asks) once the client has finished its
handshake."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext

# Methods that are part of connecting; warming starts after them, never during.
HANDSHAKE_METHODS = frozenset({"initialize", "server/discover"})


class WarmupAfterHandshake:
    def __init__(self, start: Callable[[], None]) -> None:
        self._start = start  # Services.start_warmup: idempotent

    async def __call__(
        self, ctx: ServerRequestContext[Any, Any], call_next: CallNext
    ) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method not in HANDSHAKE_METHODS:
            self._start()
        return result
