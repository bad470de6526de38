"""Shared fixtures: an in-memory client and a real server spawned over stdio."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.server.mcpserver import MCPServer

from oumi_mcp_server.library.sources import cached_library_dir
from oumi_mcp_server.server.app import build_server
from oumi_mcp_server.settings import Settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")  # oumi jobs: no telemetry calls from offline tests


def _library_dir() -> Path:
    """Oumi 0.9's config library (read-only test data), served through the override: the
    copy beside this checkout when there is one, else the one `make test` synced into the
    user cache (`oumi-mcp-server sync-configs --if-missing`, from PyPI's oumi sdist)."""
    if override := os.environ.get("OUMI_MCP_TEST_CONFIGS_DIR"):
        return Path(override)
    beside = Path(__file__).resolve().parents[2] / "shared" / "oumi-configs" / "0.9"
    if beside.is_dir():
        return beside
    return cached_library_dir(Settings.from_env().cache_dir, "0.9")


LIBRARY_DIR = _library_dir()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama with a word-level tokenizer, built once per test session (offline)."""
    from tests.tiny_project import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        log_level="INFO",
        state_dir=tmp_path / "state",
        cache_dir=tmp_path / "cache",
        configs_dir=LIBRARY_DIR,
        # Each in-memory server indexes the library in a thread that outlives it; a
        # burst of short tests leaves several running at once on a 2-core machine.
        library_wait_s=30.0,
        warmup=False,
        docs_autobuild=False,  # the API index is built by the tests that need it
        # list_jobs asks no cloud unless a test opts in: oumi.launcher's local cloud is
        # shared by the whole test process, and SkyPilot clouds start an API server.
        listed_clouds=(),
        # A fresh HOME's: no `sky check` recorded (never the test runner's own ~/.sky).
        skypilot_dir=tmp_path / "home" / ".sky",
    )


@pytest.fixture
def server(settings: Settings) -> MCPServer:
    return build_server(settings)


@pytest.fixture
async def client(server: MCPServer) -> AsyncIterator[Client]:
    """In-memory client: the real server, no subprocess."""
    async with Client(server) as connected:
        yield connected


def server_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        OUMI_MCP_STATE_DIR=str(tmp_path / "state"),
        OUMI_MCP_CACHE_DIR=str(tmp_path / "cache"),
        OUMI_MCP_CONFIGS_DIR=str(LIBRARY_DIR),
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        OUMI_MCP_WARMUP="0",
        OUMI_MCP_DOCS_AUTOBUILD="0",
        OUMI_MCP_CLOUDS="local",  # tests that need SkyPilot clouds set "" explicitly
        # Each test's state dir has its own engine worker: it leaves soon after its server.
        OUMI_MCP_WORKER_IDLE_S="5",
    )
    env.update(extra)
    return env


def stdio_parameters(tmp_path: Path, **extra_env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "oumi_mcp_server"],
        env=server_env(tmp_path, **extra_env),
        cwd=str(tmp_path),
    )


@pytest.fixture
async def stdio_client(tmp_path: Path) -> AsyncIterator[Client]:
    """The real server process, spoken to over stdio with the official client."""
    async with Client(stdio_parameters(tmp_path), mode="legacy") as connected:
        yield connected


SKY = str(Path(sys.executable).parent / "sky")


def skypilot_server_pids() -> list[int]:
    """Processes of SkyPilot's local API server (and its executors)."""
    import psutil

    pids = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "sky.server.server" in cmdline or cmdline.startswith("SkyPilot:"):
            pids.append(process.info["pid"])
    return pids


def stop_skypilot_api_server() -> None:
    import subprocess
    import time

    subprocess.run([SKY, "api", "stop"], capture_output=True, timeout=120, check=False)
    deadline = time.monotonic() + 30
    while skypilot_server_pids() and time.monotonic() < deadline:
        time.sleep(0.5)


@pytest.fixture
def skypilot_api() -> AsyncIterator[None]:  # type: ignore[misc]
    """A test that starts SkyPilot's API server; it is stopped afterwards, always."""
    try:
        yield
    finally:
        stop_skypilot_api_server()
        assert skypilot_server_pids() == [], "SkyPilot's API server outlived the test"
