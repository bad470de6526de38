"""What the middleware and handlers read from an SDK request context, in one place."""

from __future__ import annotations

from typing import Any


def tool_call_params(ctx: Any) -> dict[str, Any] | None:
    """The params of a ``tools/call`` request (None for any other request)."""
    params = ctx.params if isinstance(ctx.params, dict) else None
    return params if ctx.method == "tools/call" else None


def client_connection(ctx: Any) -> Any:
    """The client connection a request came on (its state and subscriptions last as long
    as it does). The SDK's per-request session holds it; the session itself is new per
    request, so it stands in only if the SDK ever stops keeping the connection there."""
    session = ctx.session
    return getattr(session, "_connection", session)
