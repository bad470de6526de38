"""Streamable HTTP with a bearer token, and Host and Origin checks on every bind address.

Whoever reaches the port can start processes and cloud machines as this user,
so every request needs ``Authorization: Bearer <token>``. The token comes from
``OUMI_MCP_HTTP_TOKEN``, or from ``<state dir>/http_token`` (0600), created on
first start and printed once. ``--no-auth`` is accepted only on a loopback
address. Host and Origin headers are checked whatever the bind address (DNS
rebinding; a web page in the user's browser), widened with --allowed-host and
--allowed-origin.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.types import ASGIApp, Receive, Scope, Send

from oumi_mcp_server.private import open_private, private_dir

logger = logging.getLogger(__name__)

TOKEN_ENV = "OUMI_MCP_HTTP_TOKEN"
TOKEN_FILE = "http_token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
MIN_TOKEN_CHARS = 16


class HttpSetupError(Exception):
    """The HTTP server must not start as asked; the message says why and what to do."""


@dataclass(frozen=True)
class HttpAccess:
    token: str | None  # None: --no-auth (loopback only)
    allowed_hosts: list[str]
    allowed_origins: list[str]


def is_loopback(host: str) -> bool:
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _with_port(host: str) -> str:
    """A Host pattern: 'name' and 'name:*' accept any port, 'name:8765' that port."""
    return host if ":" in host.removeprefix("[").split("]")[-1] else f"{host}:*"


def http_access(
    host: str,
    state_dir: Path,
    *,
    no_auth: bool = False,
    allowed_hosts: Sequence[str] = (),
    allowed_origins: Sequence[str] = (),
) -> HttpAccess:
    """Who may call: the token, and the Host and Origin values accepted."""
    if no_auth and not is_loopback(host):
        raise HttpSetupError(
            f"--no-auth is refused with --host {host}: without a token, anyone who reaches "
            "that address could start jobs and cloud machines as this user. Bind 127.0.0.1 "
            "for --no-auth, or keep the token."
        )
    names = list(LOOPBACK_NAMES)
    bound = f"[{host.strip('[]')}]" if ":" in host else host
    if host not in ("0.0.0.0", "::", "") and bound not in names:
        names.append(bound)  # the bind address itself (127.0.0.2, a LAN address)
    hosts = [f"{name}:*" for name in names]
    hosts += [_with_port(name) for name in allowed_hosts]
    # Pages of this machine only: a LAN bind address accepts its Host, not its pages.
    pages = [name for name in names if name in LOOPBACK_NAMES or is_loopback(name)]
    origins = [f"{scheme}://{name}:*" for scheme in ("http", "https") for name in pages]
    origins += [origin.rstrip("/") for origin in allowed_origins]
    token = None if no_auth else bearer_token(state_dir)
    return HttpAccess(token=token, allowed_hosts=hosts, allowed_origins=origins)


def bearer_token(state_dir: Path) -> str:
    """The token from OUMI_MCP_HTTP_TOKEN, else the stored one (created and shown once)."""
    given = os.environ.get(TOKEN_ENV, "").strip()
    if given:
        if len(given) < MIN_TOKEN_CHARS:
            raise HttpSetupError(
                f"{TOKEN_ENV} is shorter than {MIN_TOKEN_CHARS} characters; use a long random "
                "value (for example: python -c 'import secrets; print(secrets.token_urlsafe())')."
            )
        return given
    path = private_dir(state_dir) / TOKEN_FILE
    try:
        stored = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        stored = ""
    if len(stored) >= MIN_TOKEN_CHARS:
        logger.info("HTTP clients must send the bearer token stored in %s", path)
        return stored
    token = secrets.token_urlsafe(32)
    descriptor = open_private(path, os.O_WRONLY | os.O_TRUNC)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(token + "\n")
    print(
        f"oumi-mcp-server: created the HTTP bearer token, stored in {path} (readable by you "
        f"only; set {TOKEN_ENV} to use your own):\n  {token}\nHTTP clients must send the "
        f"header  Authorization: Bearer {token}",
        file=sys.stderr,
        flush=True,
    )
    return token


class RequireBearerToken:
    """ASGI middleware: 401 unless the request carries the token (constant-time compare).
    The scheme is matched in any case (``bearer``, ``BEARER``), as HTTP requires."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self._app = app
        self._expected = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or []).get(b"authorization", b"")
            if not hmac.compare_digest(_bearer_credentials(given), self._expected):
                await _unauthorized(send)
                return
        await self._app(scope, receive, send)


def _bearer_credentials(header: bytes) -> bytes:
    """The token of an ``Authorization: Bearer <token>`` header, b"" for any other."""
    scheme, _, credentials = header.strip().partition(b" ")
    return credentials.strip() if scheme.lower() == b"bearer" else b""


async def _unauthorized(send: Send) -> None:
    body = json.dumps(
        {
            "error": "unauthorized",
            "message": "Send the server's token: Authorization: Bearer <token> (it is in "
            f"OUMI_MCP_HTTP_TOKEN or in the state dir's {TOKEN_FILE}).",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b'Bearer realm="oumi-mcp-server"'),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def http_app(server: MCPServer, host: str, access: HttpAccess) -> ASGIApp:
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=access.allowed_hosts,
        allowed_origins=access.allowed_origins,
    )
    app: ASGIApp = server.streamable_http_app(transport_security=security, host=host)
    if access.token is not None:
        app = RequireBearerToken(app, access.token)
    return app


def exposure_warning(host: str, access: HttpAccess) -> str:
    """What a bind beyond this machine exposes ('' on loopback)."""
    if is_loopback(host):
        return ""
    user = os.environ.get("USER") or "this user"
    return (
        f"Serving MCP on {host}, beyond this machine: whoever reaches this port with the "
        f"token can run code, start jobs and spend cloud credits as {user}. Host headers "
        f"accepted: {', '.join(access.allowed_hosts)} (widen with --allowed-host)."
    )
