"""The command line: version, stdio by default, streamable HTTP on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mcp import Client

from oumi_mcp_server import __version__
from tests.conftest import server_env


def test_version_flag() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "oumi_mcp_server", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"oumi-mcp-server {__version__}"


def test_unknown_transport_is_refused() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "oumi_mcp_server", "serve", "--transport", "carrier-pigeon"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2
    assert "invalid choice" in out.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {port}")


@pytest.mark.anyio
async def test_streamable_http_transport_serves_tools(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oumi_mcp_server",
            "serve",
            "--transport",
            "http",
            "--port",
            str(port),
        ],
        env=server_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port, 30)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            tools = await client.list_tools()
            assert "get_started" in {tool.name for tool in tools.tools}
            result = await client.call_tool("get_started", {})
            assert not result.is_error
    finally:
        process.terminate()
        process.wait(timeout=15)
