"""Streamable HTTP as an attacker meets it: a real server process, a real HTTP client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import server_env

pytestmark = pytest.mark.anyio

TOKEN = "test-token-0123456789abcdef"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "probe", "version": "1"},
    },
}
JSON_HEADERS = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve_http(port: int, *arguments: str) -> list[str]:
    command = [sys.executable, "-m", "oumi_mcp_server", "serve", "--transport", "http"]
    return [*command, "--port", str(port), *arguments]


@contextmanager
def http_server(
    tmp_path: Path, *arguments: str, token: str | None = TOKEN, address: str = "127.0.0.1"
) -> Iterator[tuple[int, subprocess.Popen[str]]]:
    port = free_port()
    env = server_env(tmp_path, OUMI_MCP_LOG_LEVEL="WARNING")
    env.pop("OUMI_MCP_HTTP_TOKEN", None)
    if token is not None:
        env["OUMI_MCP_HTTP_TOKEN"] = token
    process = subprocess.Popen(
        serve_http(port, *arguments),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                socket.create_connection((address, port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.1)
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        yield port, process
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def post(port: int, headers: dict[str, str], address: str = "127.0.0.1") -> int:
    response = httpx2.post(
        f"http://{address}:{port}/mcp", json=INITIALIZE, headers={**JSON_HEADERS, **headers}
    )
    return response.status_code


async def test_no_token_or_a_wrong_token_is_401_and_the_right_one_works(tmp_path: Path) -> None:
    with http_server(tmp_path) as (port, _):
        assert post(port, {}) == 401
        assert post(port, {"authorization": "Bearer wrong-token-0123456789"}) == 401
        assert post(port, {"authorization": TOKEN}) == 401  # the scheme is part of it
        assert post(port, {"authorization": f"Bearer {TOKEN}"}) == 200
        client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        transport = streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=client)
        async with Client(transport) as connected:
            names = {tool.name for tool in (await connected.list_tools()).tools}
            started = await connected.call_tool("get_started", {})
        assert {"run_oumi_job", "get_job_status"} <= names and not started.is_error


async def test_the_bearer_scheme_is_matched_in_any_case(tmp_path: Path) -> None:
    with http_server(tmp_path) as (port, _):
        for scheme in ("Bearer", "bearer", "BEARER", "bEaReR"):
            assert post(port, {"authorization": f"{scheme} {TOKEN}"}) == 200, scheme
        assert post(port, {"authorization": f"Basic {TOKEN}"}) == 401
        assert post(port, {"authorization": f"Bearer {TOKEN}x"}) == 401
        assert post(port, {"authorization": "Bearer"}) == 401


async def test_a_server_bound_to_another_loopback_address_accepts_its_own_clients(
    tmp_path: Path,
) -> None:
    token = {"authorization": f"Bearer {TOKEN}"}
    with http_server(tmp_path, "--host", "127.0.0.2", address="127.0.0.2") as (port, _):
        assert post(port, token, address="127.0.0.2") == 200
        assert post(port, {**token, "origin": "http://127.0.0.2:3000"}, address="127.0.0.2") == 200
        assert post(port, {**token, "host": "evil.example"}, address="127.0.0.2") == 421
        assert post(port, {**token, "origin": "http://evil.example"}, address="127.0.0.2") == 403


async def test_a_foreign_origin_or_host_is_refused_on_every_bind_address(tmp_path: Path) -> None:
    token = {"authorization": f"Bearer {TOKEN}"}
    with http_server(tmp_path, "--host", "0.0.0.0") as (port, _):
        assert post(port, token) == 200
        assert post(port, {**token, "origin": "http://evil.example"}) == 403
        assert post(port, {**token, "host": "evil.example"}) == 421
    with http_server(tmp_path, "--host", "0.0.0.0", "--allowed-origin", "https://app.example") as (
        port,
        _,
    ):
        assert post(port, {**token, "origin": "https://app.example"}) == 200
        assert post(port, {**token, "origin": "http://evil.example"}) == 403


async def test_no_auth_is_refused_beyond_loopback_and_allowed_on_it(tmp_path: Path) -> None:
    env = server_env(tmp_path)
    refused = subprocess.run(
        serve_http(free_port(), "--host", "0.0.0.0", "--no-auth"),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "--no-auth is refused" in refused.stderr
    with http_server(tmp_path, "--no-auth", token=None) as (port, _):
        assert post(port, {}) == 200


async def test_a_generated_token_is_private_and_printed_only_when_created(tmp_path: Path) -> None:
    with http_server(tmp_path, token=None) as (port, process):
        token_file = tmp_path / "state" / "http_token"
        token = token_file.read_text().strip()
        assert oct(token_file.stat().st_mode & 0o777) == "0o600" and len(token) >= 32
        assert post(port, {"authorization": f"Bearer {token}"}) == 200
    assert process.stderr is not None and token in process.stderr.read()
    with http_server(tmp_path, token=None) as (port, process):
        assert post(port, {"authorization": f"Bearer {token}"}) == 200
    assert process.stderr is not None and token not in process.stderr.read()


async def test_the_token_from_the_environment_is_not_echoed(tmp_path: Path) -> None:
    with http_server(tmp_path) as (port, process):
        assert post(port, {"authorization": f"Bearer {TOKEN}"}) == 200
    assert process.stderr is not None and TOKEN not in process.stderr.read()
    assert not (tmp_path / "state" / "http_token").exists()
