"""validate_config and pre_flight_check through the MCP client; warm-up; env hygiene."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import anyio
import pytest
from mcp import Client

from oumi_mcp_server.settings import strip_overriding_env
from tests.conftest import stdio_parameters
from tests.project import make_project

pytestmark = pytest.mark.anyio


async def test_validate_config_tool_reports_structured_results(
    client: Client, tmp_path: Path
) -> None:
    project = make_project(tmp_path)
    result = await client.call_tool(
        "validate_config", {"config": "configs/train.yaml", "client_cwd": str(project)}
    )
    assert not result.is_error, result.content
    report = result.structured_content
    assert report is not None
    assert report["valid"] and report["kind"] == "training" and report["kind_inferred"]


async def test_pre_flight_tool_reports_paths(client: Client, tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = await client.call_tool(
        "pre_flight_check", {"config": "configs/train.yaml", "client_cwd": str(project)}
    )
    assert not result.is_error, result.content
    report = result.structured_content
    assert report is not None and report["blocking"] is False
    assert {row["status"] for row in report["paths"]} == {"ok", "output_ok"}


@pytest.mark.parametrize("tool", ["validate_config", "pre_flight_check"])
async def test_relative_or_missing_client_cwd_is_a_clear_error(
    client: Client, tool: str, tmp_path: Path
) -> None:
    for cwd, expected in (
        ("project", "must be absolute"),
        (str(tmp_path / "gone"), "does not exist"),
        ("", "empty"),
    ):
        result = await client.call_tool(tool, {"config": "c.yaml", "client_cwd": cwd})
        assert result.is_error
        text = result.content[0].text  # type: ignore[union-attr]
        assert "client_cwd" in text and expected in text
        assert "Next step:" in text


async def test_warm_up_loads_oumi_in_the_worker_after_the_handshake_and_makes_validation_fast(
    tmp_path: Path,
) -> None:
    project = make_project(tmp_path / "project")
    parameters = stdio_parameters(tmp_path, OUMI_MCP_WARMUP="1")
    async with Client(parameters, mode="legacy") as client:
        await client.list_tools()
        info = json.loads((await client.read_resource("server://info")).contents[0].text)  # type: ignore[union-attr]
        assert info["oumi_warmup"]["state"] in ("idle", "running")
        deadline = time.monotonic() + 120
        while info["oumi_warmup"]["state"] != "done" and time.monotonic() < deadline:
            await anyio.sleep(0.5)
            info = json.loads((await client.read_resource("server://info")).contents[0].text)  # type: ignore[union-attr]
        assert info["oumi_warmup"]["state"] == "done", info
        assert "oumi" not in info["heavy_modules_loaded"]  # the engine worker loaded it
        assert info["engine_worker"]["running"], info["engine_worker"]
        assert info["engine_worker"]["rss_mb"] > 300  # oumi and torch live there
        started = time.monotonic()
        result = await client.call_tool(
            "validate_config", {"config": "configs/train.yaml", "client_cwd": str(project)}
        )
        assert not result.is_error
        assert time.monotonic() - started < 2.0


def test_overriding_variables_are_stripped() -> None:
    env = {"OUMI_USE_SPOT_VM": "1", "OUMI_FORCE_EDITABLE_INSTALL": "1", "KEEP": "x"}
    assert strip_overriding_env(env) == ["OUMI_USE_SPOT_VM", "OUMI_FORCE_EDITABLE_INSTALL"]
    assert env == {"KEEP": "x"}


def test_the_server_strips_them_at_start_and_says_so(tmp_path: Path) -> None:
    from tests.conftest import server_env

    env = server_env(tmp_path, OUMI_USE_SPOT_VM="true", OUMI_MCP_WARMUP="0")
    process = subprocess.run(
        [sys.executable, "-m", "oumi_mcp_server"],
        input=b"",
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert b"Ignoring OUMI_USE_SPOT_VM" in process.stderr
